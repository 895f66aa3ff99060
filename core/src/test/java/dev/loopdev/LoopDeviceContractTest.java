package dev.loopdev;

import java.util.List;

/** The contract over the core's own transforms: none and xor. */
class LoopDeviceContractTest extends LoopDeviceContract {
    @Override
    protected List<NamedTransform> transforms() {
        return List.of(new NamedTransform("none", () -> Transform.NONE),
                new NamedTransform("xor", () -> new XorTransform("a key of 17 bytes!".getBytes())));
    }
}
