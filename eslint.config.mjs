// Lint with type information, so that @pulumi/eslint-plugin can see which
// template-literal values are Outputs.
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/**", "bin/**", "dist/**", ".stryker-tmp*/**", "reports/**", "eslint.config.mjs", "stryker.config.mjs"] },
    js.configs.recommended,
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
        },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
        },
    },
    {
        // vitest's asymmetric matchers (expect.stringContaining, ...) are typed any.
        files: ["test/**/*.ts"],
        rules: { "@typescript-eslint/no-unsafe-assignment": "off" },
    },
);
