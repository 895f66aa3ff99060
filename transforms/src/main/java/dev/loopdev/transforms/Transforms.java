package dev.loopdev.transforms;

import dev.loopdev.Transform;
import dev.loopdev.XorTransform;

/** Creates a {@link Transform} from its spec, in cryptsetup's syntax where there is one. */
public final class Transforms {
    private Transforms() {
    }

    /**
     * @param spec the transform's name: {@code none}, {@code xor}
     * @param key  the key bytes; copied, so the caller may wipe its array
     */
    public static Transform create(String spec, byte[] key) {
        return switch (spec) {
            case "none" -> Transform.NONE;
            case "xor" -> new XorTransform(key);
            default -> throw new IllegalArgumentException("unknown transform '" + spec + "' (known: none, xor)");
        };
    }
}
