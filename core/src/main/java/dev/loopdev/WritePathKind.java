package dev.loopdev;

/** How writes reach the backing file; {@code AUTO} probes at attach time. */
public enum WritePathKind {
    AUTO, MAPPED, POSITIONAL;

    public static WritePathKind parse(String s) {
        return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
    }
}
