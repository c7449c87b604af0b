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

describe("the bidi and invisible format characters (issue 23: Trojan Source, zero-width look-alikes)", () => {
    const BIDI_AND_FORMAT = [
        0x061c, // ARABIC LETTER MARK
        0x200b,
        0x200c,
        0x200d, // zero-width space, non-joiner, joiner
        0x200e,
        0x200f, // LEFT-TO-RIGHT MARK, RIGHT-TO-LEFT MARK
        0x202a,
        0x202b,
        0x202c,
        0x202d,
        0x202e, // embeddings, pop, overrides
        0x2060,
        0x2061,
        0x2062,
        0x2063,
        0x2064, // word joiner, invisible operators
        0x2066,
        0x2067,
        0x2068,
        0x2069, // isolates
        0xfeff, // ZERO WIDTH NO-BREAK SPACE (a byte order mark inside text)
    ];

    it.each(BIDI_AND_FORMAT.map((code) => [`U+${code.toString(16).toUpperCase().padStart(4, "0")}`, code]))(
        "%s is escaped by printable and printableJson and refused by isPrintable",
        (_, code) => {
            const character = String.fromCodePoint(code);
            const text = `rollback 3${character} -> 2`;
            expect(isPrintable(text)).toBe(false);
            expect(printable(text)).toBe(`rollback 3\\u{${code.toString(16)}} -> 2`);
            expect(isPrintable(printable(text))).toBe(true);
            const json = printableJson({ reason: text });
            expect(json).toBe(`{"reason":"rollback 3\\u${code.toString(16).padStart(4, "0")} -> 2"}`);
            expect(JSON.parse(json)).toEqual({ reason: text });
        },
    );

    it("leaves the printable neighbours of those ranges alone (U+061B, U+200A, U+2010, U+202F, U+FEFE...)", () => {
        for (const code of [0x061b, 0x061d, 0x200a, 0x2010, 0x2027, 0x202f, 0x205f, 0x206a, 0xfefe, 0xff01]) {
            expect(isPrintable(String.fromCodePoint(code)), `U+${code.toString(16)}`).toBe(true);
        }
    });
});
