"""Text handling shared by the Covenant model build scripts.

Everything here has a byte-for-byte twin in TypeScript (src/inference/text.ts and the
featurizers); the build scripts write fixtures that the TypeScript tests compare against,
so a change on one side that is not made on the other fails the tests.
"""
import re

# ASCII-only classes so that Python's `re` and JavaScript's RegExp split identically.
TOKEN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]*[A-Za-z0-9])?|[^ \t\n\r\f\vA-Za-z0-9]")

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193


def fnv1a32(text: str) -> int:
    """FNV-1a over the UTF-8 bytes: stable, trivial to reimplement (Math.imul in JS)."""
    h = FNV_OFFSET
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * FNV_PRIME) & 0xFFFFFFFF
    return h


def tokenize(text: str) -> list:
    """Words, numbers and identifiers (with inner . _ -) stay whole; other symbols are single tokens; whitespace is dropped."""
    return TOKEN_RE.findall(text)


def shape(token: str) -> str:
    """Character classes with runs collapsed: 'INV-2041' -> 'A-9', '0.25' -> '9.9'."""
    out = []
    for ch in token:
        if "A" <= ch <= "Z":
            c = "A"
        elif "a" <= ch <= "z":
            c = "a"
        elif "0" <= ch <= "9":
            c = "9"
        else:
            c = ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


# --- keccak256 (for EIP-55 checksummed addresses in the generated corpora) -------------
_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M = 0xFFFFFFFFFFFFFFFF


def _rol(x, n):
    return ((x << n) | (x >> (64 - n))) & _M if n else x


def _keccak_f(a):
    for rnd in range(24):
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        a = [[b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        a[0][0] ^= _RC[rnd]
    return a


def keccak256(data: bytes) -> bytes:
    rate = 136
    msg = bytearray(data) + b"\x01"
    while len(msg) % rate:
        msg += b"\x00"
    msg[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            a[x][y] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        a = _keccak_f(a)
    out = b""
    for i in range(4):
        out += a[i % 5][i // 5].to_bytes(8, "little")
    return out


def checksum_address(hex40: str) -> str:
    """EIP-55 mixed-case checksum of a 40-hex-digit address."""
    lower = hex40.lower()
    h = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(lower))


if __name__ == "__main__":
    # Known EIP-55 vector.
    assert checksum_address("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert tokenize("Invoice INV-2041: pay 0.25 ETH to 0x5aAeb.") == ["Invoice", "INV-2041", ":", "pay", "0.25", "ETH", "to", "0x5aAeb", "."]
    print("ok", hex(fnv1a32("hello")))
