// Stable ids: RFC 4122 version-5 UUIDs (SHA-1 of a fixed namespace and a name). A large config derives
// 100,000s of them, so SHA-1 is computed here in JavaScript over one reused buffer: for inputs this short,
// a call into the crypto binding costs several times the hashing itself. test/config/ids.test.ts checks it
// against node:crypto.

// Fixed namespace so generated ids are the same on every machine and every load.
const NAMESPACE = Buffer.from('fd02801f09574a15a55ac8d9606f30b5', 'hex');

let input = Buffer.alloc(1024);
NAMESPACE.copy(input);
const words = new Int32Array(80);
const HEX = Buffer.from('0123456789abcdef');
const uuid = Buffer.from('00000000-0000-0000-0000-000000000000');
// Where each of the 16 bytes goes in the 36 characters, around the four dashes.
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const digest = new Int32Array(5);

/** SHA-1 of the first `length` bytes of `input` into `digest`; pads `input` in place (it has room). */
function sha1(length: number): void {
  const blocks = (length + 8 + 64) >>> 6;
  input[length] = 0x80;
  input.fill(0, length + 1, blocks * 64 - 4);
  input.writeUInt32BE(length * 8, blocks * 64 - 4); // inputs are far below 512 MB: the high word is 0
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let block = 0; block < blocks; block++) {
    const o = block * 64;
    for (let t = 0; t < 16; t++) {
      const p = o + t * 4;
      words[t] = (input[p] << 24) | (input[p + 1] << 16) | (input[p + 2] << 8) | input[p + 3];
    }
    for (let t = 16; t < 80; t++) {
      const x = words[t - 3] ^ words[t - 8] ^ words[t - 14] ^ words[t - 16];
      words[t] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      if (t < 20) f = ((b & c) | (~b & d)) + 0x5a827999;
      else if (t < 40) f = (b ^ c ^ d) + 0x6ed9eba1;
      else if (t < 60) f = ((b & c) | (b & d) | (c & d)) + (0x8f1bbcdc | 0);
      else f = (b ^ c ^ d) + (0xca62c1d6 | 0);
      const next = (((a << 5) | (a >>> 27)) + f + e + words[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = next;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  digest[0] = h0;
  digest[1] = h1;
  digest[2] = h2;
  digest[3] = h3;
  digest[4] = h4;
}

/** RFC 4122 version-5 UUID of `name` in this gateway's namespace. */
export function stableId(entity: string, naturalKey: string): string {
  const name = `${entity}\0${naturalKey}`;
  const need = NAMESPACE.length + Buffer.byteLength(name) + 72;
  if (need > input.length) {
    input = Buffer.alloc(need * 2);
    NAMESPACE.copy(input);
  }
  sha1(NAMESPACE.length + input.write(name, NAMESPACE.length, 'utf8'));
  for (let i = 0; i < 16; i++) {
    let byte = (digest[i >> 2] >>> (24 - (i & 3) * 8)) & 0xff;
    if (i === 6) byte = (byte & 0x0f) | 0x50; // version 5
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // RFC 4122 variant
    uuid[AT[i]] = HEX[byte >> 4];
    uuid[AT[i] + 1] = HEX[byte & 15];
  }
  return uuid.toString('latin1');
}
