import { previewBase64, previewBytes } from './byte-preview';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('previewBytes', () => {
  it('keeps printable UTF-8 and escapes controls, bidi overrides and backslashes', () => {
    expect(previewBytes(utf8('{"v":1}\n\tpümpe-7 \u202eevil\u0000\\x')).text).toBe('{"v":1}\\n\\tpümpe-7 \\u202eevil\\x00\\\\x');
  });

  it('escapes invalid UTF-8 byte by byte', () => {
    const p = previewBytes(new Uint8Array([0x7b, 0xff, 0xfe, 0x3c, 0x73, 0x63, 0x72, 0x3e, 0x0a]));
    expect(p).toEqual({ text: '{\\xff\\xfe<scr>\\n', bytes: 9, truncated: false });
  });

  it('truncates to the character budget without cutting an escape', () => {
    const p = previewBytes(utf8('a'.repeat(10) + '\u0001' + 'b'.repeat(10)), 12);
    expect(p.text).toBe('a'.repeat(10));
    expect(p.truncated).toBe(true);
    expect(p.bytes).toBe(21);
  });

  it('reads DLQ base64 and keeps null as null', () => {
    expect(previewBase64(Buffer.from('not json').toString('base64'))?.text).toBe('not json');
    expect(previewBase64(null)).toBeNull();
  });
});
