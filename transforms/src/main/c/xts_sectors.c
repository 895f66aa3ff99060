/*
 * libloopdev-xts: the per-sector loop of AES-XTS in C, so that a request of many sectors is one call from Java.
 *
 * Java (transforms/XtsSectors) hands over everything as integers: the address of libcrypto's EVP_Cipher (from the
 * libcrypto JNA loaded, so this library links against no libcrypto of its own and needs no OpenSSL headers), a
 * context keyed once, the address of that context's live IV, and the buffers' addresses. For each sector the loop
 * writes the sector number into the IV (little-endian in the first 8 bytes, as plain64; the low 32 bits for
 * plain) and calls EVP_Cipher over the sector, exactly what the Java side would otherwise do a JNA call per sector
 * for (LibCryptoXts.Context.sector).
 */
#include <jni.h>
#include <stdint.h>
#include <string.h>

typedef int (*evp_cipher_fn)(void *ctx, unsigned char *out, const unsigned char *in, unsigned int length);

/* The sectors of [in, in + length) into out (which may be in): the bytes done, or -1 if a call failed. */
JNIEXPORT jint JNICALL Java_dev_loopdev_transforms_XtsSectors_sectors(JNIEnv *env, jclass cls, jlong cipher,
        jlong ctx, jlong iv, jlong in, jlong out, jint length, jint sectorSize, jlong first, jint ivStep,
        jboolean plain32) {
    evp_cipher_fn fn = (evp_cipher_fn) (intptr_t) cipher;
    unsigned char *live = (unsigned char *) (intptr_t) iv;
    const unsigned char *src = (const unsigned char *) (intptr_t) in;
    unsigned char *dst = (unsigned char *) (intptr_t) out;
    uint64_t sector = (uint64_t) first;
    (void) env;
    (void) cls;
    if (length < 0 || sectorSize <= 0 || length % sectorSize != 0) {
        return -1;
    }
    for (jint done = 0; done < length; done += sectorSize, sector += (uint64_t) ivStep) {
        uint64_t n = plain32 ? (sector & 0xffffffffu) : sector;
        for (int i = 0; i < 8; i++) {
            live[i] = (unsigned char) (n >> (8 * i));
        }
        memset(live + 8, 0, 8);
        if (fn((void *) (intptr_t) ctx, dst + done, src + done, (unsigned int) sectorSize) != sectorSize) {
            return -1;
        }
    }
    return length;
}
