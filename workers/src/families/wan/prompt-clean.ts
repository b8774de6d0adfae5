const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/** HTML character references (the common named ones, and numeric ones) as Python's html.unescape reads them. */
function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (ref, body: string) => {
    if (body[0] !== "#") return NAMED[body.toLowerCase()] ?? ref;
    const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ref;
  });
}

/**
 * diffusers' Wan `prompt_clean`: HTML unescaped twice, whitespace runs made one space, trimmed. (It also
 * runs ftfy's mojibake repair when ftfy is installed; that has no JS port and is left out.)
 */
export function cleanPrompt(text: string): string {
  return unescapeHtml(unescapeHtml(text).trim()).replace(/\s+/g, " ").trim();
}
