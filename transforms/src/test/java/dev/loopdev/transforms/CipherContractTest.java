package dev.loopdev.transforms;

import dev.loopdev.LoopDeviceContract;
import java.util.List;
import java.util.Random;

/**
 * The core's device contract (both write paths, tiny and real page sizes, random operations against a model,
 * concurrency, flushes racing writers, shrinking files) run over the sector ciphers, one per family of IV.
 */
class CipherContractTest extends LoopDeviceContract {
    @Override
    protected List<NamedTransform> transforms() {
        return List.of(cipher("aes-cbc-plain", 16), cipher("aes-cbc-essiv:sha256", 32),
                cipher("aes-xts-plain64", 64));
    }

    private static NamedTransform cipher(String spec, int keyBytes) {
        byte[] key = new byte[keyBytes];
        new Random(spec.hashCode()).nextBytes(key);
        return new NamedTransform(spec, () -> Transforms.create(spec, key.clone()));
    }
}
