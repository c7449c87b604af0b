/**
 * Text that reaches a terminal (or a build log) from outside mlops itself: a
 * `--reason`, an update message, a ledger reason, a config key, a resource
 * name. Printed raw, a control character in it is a command to the terminal:
 * ESC [ 2 J clears the screen, a carriage return or newline forges a line of
 * output, a right-to-left override reorders what follows. These functions
 * make such text print as what it is.
 */

/**
 * What `printable` escapes: C0 controls (U+0000-U+001F: tab, newline, ESC...),
 * DEL (U+007F), C1 controls (U+0080-U+009F; U+009B is a one-character CSI to
 * terminals that take 8-bit controls), the Unicode line and paragraph
 * separators (U+2028, U+2029: line breaks to some viewers), the
 * bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069: they reorder the text around them,
 * "Trojan Source") and the invisible format characters (U+200B-U+200D,
 * U+2060-U+2064, U+FEFF: zero-width, so two different texts print alike).
 */
const UNPRINTABLE_CLASS = "\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff";
const UNPRINTABLE = new RegExp(`[${UNPRINTABLE_CLASS}]`, "gu");
/** What JSON.stringify leaves raw of UNPRINTABLE: all but the C0 controls, which it escapes itself. */
const UNPRINTABLE_IN_JSON = new RegExp(`[${UNPRINTABLE_CLASS.replace("\\u0000-\\u001f", "")}]`, "gu");

const NAMED_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `\n`, `\r` and `\t` by name; `\x1b` for the other controls up to U+00FF; `\u{202e}` above. */
function escaped(character: string): string {
    const named = NAMED_ESCAPES[character];
    if (named !== undefined) return named;
    const code = character.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/**
 * One line of text, safe to print: every character of `UNPRINTABLE` (a
 * newline and a tab included: the text is one field of one line) replaced
 * by a visible escape, `\n`, `\t`, `\x1b`, `\u{202e}`; everything else as
 * it is. A backslash is kept as it is, so `a\x1bb` typed out reads the same
 * as an escaped ESC: the point is that nothing reaches the terminal as a
 * command, not that the escape can be reversed.
 *
 *     printable("5xx after v4")        // "5xx after v4"
 *     printable("ok\n3 succeeded")     // "ok\\n3 succeeded": no forged line
 *     printable("\u001b[2J")           // "\\x1b[2J": the screen stays
 */
export function printable(text: string): string {
    return text.replace(UNPRINTABLE, escaped);
}

/**
 * Lines of text (mlops's own message, with values from outside in it), safe
 * to print: each line made `printable`, the line breaks between them kept.
 * A trailing newline stays one.
 */
export function printableLines(text: string): string {
    return text.split("\n").map(printable).join("\n");
}

/**
 * `JSON.stringify(value, null, indent)`, safe to print: JSON already escapes
 * the C0 controls in strings, not DEL, the C1 controls, the separators or
 * the bidi and format characters; those are written as `\u` escapes too, which every JSON reader reads back
 * as the same characters.
 */
export function printableJson(value: unknown, indent?: number): string {
    return JSON.stringify(value, null, indent).replace(UNPRINTABLE_IN_JSON, (character) => {
        return `\\u${(character.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`;
    });
}

/** Whether `text` prints as itself: no character `printable` would escape. */
export function isPrintable(text: string): boolean {
    return printable(text) === text;
}
