"""Second implementation of the sector ciphers, for the tests: dm-crypt's rules, written from the kernel's
description, on python3-cryptography (AES: CBC, ESSIV, XTS) and libgcrypt through ctypes (Twofish, Serpent).

usage: oracle.py encrypt|decrypt SPEC KEYHEX FIRST_IV_SECTOR IN OUT [SECTOR_SIZE]
       SECTOR_SIZE (512 by default, up to 4096) is dm-crypt's sector_size: each unit of that many bytes is one
       chain, and its IV is the number of its first 512-byte sector (dm-crypt's cc_sector, which steps by
       sector_size >> 9 per unit unless the table says iv_large_sectors), as a LUKS2 segment's sectors have it.
       oracle.py plainhash HASH KEYBYTES PASSPHRASE_HEX     (cryptsetup's crypt_plain_hash, via hashlib)
"""
import ctypes, ctypes.util, hashlib, struct, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECTOR = 512


def iv_block(cipher, ivmode, sector, key):
    if ivmode == "plain":
        return struct.pack("<I", sector & 0xFFFFFFFF) + bytes(12)
    le64 = struct.pack("<Q", sector & 0xFFFFFFFFFFFFFFFF) + bytes(8)
    if ivmode == "plain64":
        return le64
    if ivmode == "essiv:sha256":
        salt = hashlib.sha256(key).digest()
        return block_cipher(cipher, salt, True, "ecb", None, le64)  # ESSIV uses the data cipher
    raise SystemExit("bad iv mode " + ivmode)


class Gcrypt:
    lib = None
    ALGO = {("twofish", 16): 303, ("twofish", 32): 10, ("serpent", 16): 304, ("serpent", 24): 305,
            ("serpent", 32): 306}
    MODE = {"ecb": 1, "cbc": 3}

    @classmethod
    def run(cls, cipher, key, encrypt, mode, iv, data):
        if cls.lib is None:
            cls.lib = ctypes.CDLL("libgcrypt.so.20")
            cls.lib.gcry_check_version.restype = ctypes.c_char_p
            cls.lib.gcry_check_version(None)
        h = ctypes.c_void_p()
        algo = cls.ALGO[(cipher, len(key))]
        assert cls.lib.gcry_cipher_open(ctypes.byref(h), algo, cls.MODE[mode], 0) == 0
        try:
            assert cls.lib.gcry_cipher_setkey(h, key, len(key)) == 0
            if iv is not None:
                assert cls.lib.gcry_cipher_setiv(h, iv, len(iv)) == 0
            out = ctypes.create_string_buffer(len(data))
            f = cls.lib.gcry_cipher_encrypt if encrypt else cls.lib.gcry_cipher_decrypt
            assert f(h, out, len(data), data, len(data)) == 0
            return out.raw
        finally:
            cls.lib.gcry_cipher_close(h)


def block_cipher(cipher, key, encrypt, mode, iv, data):
    if cipher != "aes":
        return Gcrypt.run(cipher, key, encrypt, mode, iv, data)
    m = modes.ECB() if mode == "ecb" else modes.CBC(iv)
    c = Cipher(algorithms.AES(key), m)
    ctx = c.encryptor() if encrypt else c.decryptor()
    return ctx.update(data) + ctx.finalize()


def sector_crypt(spec, key, encrypt, sector, data):
    cipher, chain, ivmode = spec.split("-", 2)
    if chain == "cbc":
        return block_cipher(cipher, key, encrypt, "cbc", iv_block(cipher, ivmode, sector, key), data)
    assert chain == "xts"
    tweak = iv_block(cipher, ivmode, sector, key)
    if cipher == "aes":  # cryptography's XTS encrypts the tweak with the second key itself
        c = Cipher(algorithms.AES(key), modes.XTS(tweak))
        ctx = c.encryptor() if encrypt else c.decryptor()
        return ctx.update(data) + ctx.finalize()
    return xts_by_blocks(cipher, key, encrypt, tweak, data)


def xts_by_blocks(cipher, key, encrypt, iv, data):
    """IEEE 1619 from its definition, over libgcrypt's ECB: T = E_k2(iv); C_j = E_k1(P_j ^ T_j) ^ T_j, T_j+1 = T_j * x."""
    k1, k2 = key[:len(key) // 2], key[len(key) // 2:]
    t = int.from_bytes(block_cipher(cipher, k2, True, "ecb", None, iv), "little")
    out = bytearray()
    for j in range(0, len(data), 16):
        tb = t.to_bytes(16, "little")
        x = bytes(a ^ b for a, b in zip(data[j:j + 16], tb))
        y = block_cipher(cipher, k1, encrypt, "ecb", None, x)
        out += bytes(a ^ b for a, b in zip(y, tb))
        t <<= 1
        if t >> 128:
            t = (t ^ 0x87) & ((1 << 128) - 1)
    return bytes(out)


def plain_hash(name, key_bytes, passphrase):
    if name == "plain":
        return (passphrase + bytes(key_bytes))[:key_bytes]
    out = b""
    rnd = 0
    while len(out) < key_bytes:
        out += hashlib.new(name, b"A" * rnd + passphrase).digest()
        rnd += 1
    return out[:key_bytes]


def main():
    if sys.argv[1] == "plainhash":
        print(plain_hash(sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])).hex())
        return
    op, spec, keyhex, first, src, dst = sys.argv[1:7]
    unit = int(sys.argv[7]) if len(sys.argv) > 7 else SECTOR
    key, first = bytes.fromhex(keyhex), int(first)
    data = open(src, "rb").read()
    assert len(data) % unit == 0
    out = bytearray()
    for i in range(0, len(data), unit):
        out += sector_crypt(spec, key, op == "encrypt", first + i // SECTOR, data[i:i + unit])
    open(dst, "wb").write(out)


main()
