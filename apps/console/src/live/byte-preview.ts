/** A safe, bounded text rendering of untrusted bytes. */
export interface BytePreview {
  /** Printable text; everything else escaped (`\n`, `\u202e`, `\xff`...). */
  readonly text: string;
  /** Size of the original bytes. */
  readonly bytes: number;
  /** The original went on beyond what `text` shows. */
  readonly truncated: boolean;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Code points shown escaped even inside valid UTF-8: controls (C0, DEL, C1), the line and
 * paragraph separators, bidirectional overrides and isolates (which can reorder what an operator
 * reads), zero-width characters and the BOM, and lone surrogates.
 */
function mustEscape(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    cp === 0xfeff ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

function escapeCodePoint(cp: number): string {
  switch (cp) {
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    default:
      return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  }
}

/**
 * Renders `bytes` for display: valid UTF-8 as text with unsafe code points escaped, anything else
 * byte by byte (`\xNN` outside printable ASCII); backslashes are doubled so an escape in the
 * output always means an escaped byte. At most `maxChars` characters of output (escapes count in
 * full). The result is still plain text: the page puts it in `textContent`, never in HTML.
 */
export function previewBytes(bytes: Uint8Array, maxChars = 512): BytePreview {
  let out = '';
  let truncated = false;
  const push = (s: string): boolean => {
    if (out.length + s.length > maxChars) {
      truncated = true;
      return false;
    }
    out += s;
    return true;
  };
  let text: string | null = null;
  try {
    text = UTF8.decode(bytes);
  } catch {
    text = null;
  }
  if (text !== null) {
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (!push(ch === '\\' ? '\\\\' : mustEscape(cp) ? escapeCodePoint(cp) : ch)) break;
    }
  } else {
    for (const b of bytes) {
      if (!push(b === 0x5c ? '\\\\' : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : escapeCodePoint(b))) break;
    }
  }
  return { text: out, bytes: bytes.length, truncated };
}

/** {@link previewBytes} of base64 (a DLQ envelope's `key`/`value`); null stays null. */
export function previewBase64(b64: string | null | undefined, maxChars = 512): BytePreview | null {
  if (b64 === null || b64 === undefined) return null;
  return previewBytes(Buffer.from(b64, 'base64'), maxChars);
}
