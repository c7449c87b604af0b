/**
 * What the trigger tells people goes through SNS, whose `Subject` has rules
 * of its own: the Publish API's reference says "Subjects must be UTF-8 text
 * with no line breaks or control characters, and less than 100 characters
 * long" (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sns/aws.sdk.kotlin.services.sns.model/-publish-request/subject.html);
 * its earlier wording asked for ASCII text beginning with a letter, number or
 * punctuation mark, and subscribers such as email clients still render
 * anything else badly. A subject that breaks them fails the whole Publish,
 * and the notice with it, so every subject is made safe here.
 */

/** The longest subject SNS takes: "less than 100 characters". */
export const SNS_SUBJECT_MAX_LENGTH = 99;

const LINE_BREAKS_AND_TABS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
// Per code point (the u flag): an emoji is one `?`, not two.
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/gu;

/**
 * `text` as one line of printable ASCII of at most 99 characters: line
 * breaks and tabs become a space, any other control or non-ASCII character
 * a `?`, runs of spaces one space; a longer subject is cut and ends in
 * `...`. E.g. `"mlops rolled back: m (prod) 3\n-> 2"` becomes
 * `"mlops rolled back: m (prod) 3 -> 2"`. Never empty (SNS refuses an empty subject).
 */
export function snsSubject(text: string): string {
    const line = text.replace(LINE_BREAKS_AND_TABS, " ").replace(NOT_PRINTABLE_ASCII, "?").replace(/ {2,}/g, " ").trim();
    if (line === "") return "mlops notice";
    return line.length <= SNS_SUBJECT_MAX_LENGTH ? line : `${line.slice(0, SNS_SUBJECT_MAX_LENGTH - 3).trimEnd()}...`;
}
