package dev.loopdev.transforms;

import dev.loopdev.LoopDeviceContract;
import java.util.List;
import java.util.Random;

/**
 * The core's device contract (both write paths, tiny and real page sizes, random operations against a model,
 * concurrency, flushes racing writers, shrinking files) run over the sector ciphers, one per family of IV, and over
 * sectors larger than 512 bytes (requests widened to whole 1024- and 4096-byte units).
 */
class CipherContractTest extends LoopDeviceContract {
    @Override
    protected List<NamedTransform> transforms() {
        return List.of(cipher("aes-cbc-plain", 16, 512), cipher("aes-cbc-essiv:sha256", 32, 512),
                cipher("aes-xts-plain64", 64, 512), cipher("aes-xts-plain64", 64, 4096),
                cipher("aes-cbc-essiv:sha256", 32, 1024));
    }

    /** A cipher over sectors of {@code sectorSize} bytes, as a LUKS2 image with that sector_size has it. */
    private static NamedTransform cipher(String spec, int keyBytes, int sectorSize) {
        byte[] key = new byte[keyBytes];
        new Random(spec.hashCode()).nextBytes(key);
        String name = sectorSize == 512 ? spec : spec + "/" + sectorSize;
        return new NamedTransform(name, () -> Transforms.create(spec, key.clone(), 0, sectorSize));
    }
}
