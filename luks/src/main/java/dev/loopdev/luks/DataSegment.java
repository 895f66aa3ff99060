package dev.loopdev.luks;

/**
 * The encrypted data of a LUKS image: where it lies in the data file, how it is encrypted, and how dm-crypt
 * numbers its IVs. Everything the device needs; no key material.
 *
 * @param offsetBytes where the segment starts in the data file (the image, or the data file beside a detached
 *                    header)
 * @param sizeBytes   its length, or -1 for "dynamic": to the end of the file
 * @param cipher      the cipher spec in cryptsetup's syntax, e.g. {@code aes-xts-plain64}
 * @param keyBytes    the volume key's length
 * @param sectorSize  dm-crypt's {@code sector_size}: 512 (LUKS1, and LUKS2's default) to 4096
 * @param ivTweak     added to the segment's sector number for the IV, in 512-byte sectors (LUKS2's
 *                    {@code iv_tweak}, dm-crypt's iv_offset); 0 for LUKS1
 */
public record DataSegment(long offsetBytes, long sizeBytes, String cipher, int keyBytes, int sectorSize,
                          long ivTweak) {
    public boolean isDynamic() {
        return sizeBytes < 0;
    }

    /**
     * The IV offset a device over the data file uses: loopdev counts IV sectors from the start of the file, dm-crypt
     * from the start of the segment, so the segment's offset is taken off again.
     */
    public long deviceIvOffset() {
        return ivTweak - offsetBytes / 512;
    }
}
