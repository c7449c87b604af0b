import { describe, expect, it } from "vitest";
import { isPrintable, printable, printableJson, printableLines } from "../cli/terminalText";

describe("printable: text from outside, made safe to print on one line", () => {
    it.each([
        ["5xx after v4", "5xx after v4"],
        ["ok\n2026-11-27T09:00:00Z  deploy  9  succeeded", "ok\\n2026-11-27T09:00:00Z  deploy  9  succeeded"],
        ["\u001b[2J\u001b[H", "\\x1b[2J\\x1b[H"],
        ["a\rb\tc", "a\\rb\\tc"],
        ["nul\u0000del\u007f", "nul\\x00del\\x7f"],
        // C1: U+009B is a one-character CSI to terminals that take 8-bit controls.
        ["\u009b2J", "\\x9b2J"],
        ["line\u2028sep", "line\\u{2028}sep"],
        // Trojan Source: a right-to-left override reorders what follows.
        ["deploy \u202e4 <- 3", "deploy \\u{202e}4 <- 3"],
        ["naïve ✓ 模型", "naïve ✓ 模型"],
    ])("prints %j as %j", (text, shown) => {
        expect(printable(text)).toBe(shown);
        expect(isPrintable(shown)).toBe(true);
    });

    it("escapes every C0 and C1 control and DEL, and nothing printable of Latin-1", () => {
        for (let code = 0; code <= 0xff; code++) {
            const character = String.fromCodePoint(code);
            const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
            expect(isPrintable(character), `U+${code.toString(16)}`).toBe(!control);
        }
    });

    it("printableLines keeps mlops's own line breaks and escapes the rest", () => {
        expect(printableLines("problem one: \u001b[31mred\nproblem two\n")).toBe("problem one: \\x1b[31mred\nproblem two\n");
    });

    it("printableJson escapes what JSON.stringify leaves raw (DEL, C1, separators) and reads back to the same value", () => {
        const value = { reason: "a\u007fb\u009bc\u2028d\u202ee\u001bf" };
        const json = printableJson(value);
        expect(json).toBe('{"reason":"a\\u007fb\\u009bc\\u2028d\\u202ee\\u001bf"}');
        expect(isPrintable(json)).toBe(true);
        expect(JSON.parse(json)).toEqual(value);
        expect(printableJson([1], 2)).toBe("[\n  1\n]");
    });
});
