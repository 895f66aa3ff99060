package dev.loopdev.transforms;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The controlling terminal, {@code /dev/tty}, as cryptsetup uses it for passphrases: the prompt and the typed
 * passphrase go there even when standard input and output are redirected, and the typing is not echoed.
 */
final class Terminal {
    private static final int O_RDWR = 2;
    private static final int O_NOCTTY = 0x100;
    private static final int O_CLOEXEC = 0x80000;
    /** Wait for output to drain, keep what was typed ahead (as bash's read -s does). */
    private static final int TCSADRAIN = 1;
    /** struct termios on Linux: c_lflag is the fourth 32-bit word; ECHO is 0000010, ECHONL 0000100 (octal). */
    private static final int LFLAG_AT = 12;
    private static final int ECHO = 0x8;
    private static final int ECHONL = 0x40;
    private static final int TERMIOS_BYTES = 64;

    static {
        Native.register(Terminal.class, "c");
    }

    private Terminal() {
    }

    private static native int open(String path, int flags) throws LastErrorException;

    private static native int close(int fd) throws LastErrorException;

    private static native long read(int fd, byte[] buf, long count) throws LastErrorException;

    private static native long write(int fd, byte[] buf, long count) throws LastErrorException;

    private static native int tcgetattr(int fd, byte[] termios) throws LastErrorException;

    private static native int tcsetattr(int fd, int action, byte[] termios) throws LastErrorException;

    /** Whether this process has a controlling terminal to ask on. */
    static boolean available() {
        try {
            close(open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
            return true;
        } catch (LastErrorException e) {
            return false;
        }
    }

    /**
     * Prints {@code prompt} on the terminal and reads one line with echo off, at most {@code maxBytes}; null when
     * there is no terminal. The echo is restored even if the JVM is stopped while waiting (Ctrl-C).
     */
    static byte[] readPassword(String prompt, int maxBytes) {
        return readLine(prompt, maxBytes, false);
    }

    /** As {@link #readPassword}, with the typing echoed when {@code echo}: for questions such as "Are you sure?". */
    static byte[] readLine(String prompt, int maxBytes, boolean echo) {
        int fd;
        try {
            fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        } catch (LastErrorException e) {
            return null;
        }
        byte[] saved = new byte[TERMIOS_BYTES];
        Thread restore = null;
        try {
            tcgetattr(fd, saved);
            byte[] quiet = saved.clone();
            int lflag = readInt(quiet, LFLAG_AT);
            writeInt(quiet, LFLAG_AT, echo ? lflag : (lflag & ~ECHO) | ECHONL);
            restore = new Thread(() -> {
                try {
                    tcsetattr(fd, TCSADRAIN, saved);
                } catch (LastErrorException ignored) {
                    // the terminal is gone: nothing left to restore
                }
            });
            Runtime.getRuntime().addShutdownHook(restore);
            tcsetattr(fd, TCSADRAIN, quiet);
            byte[] p = prompt.getBytes(StandardCharsets.UTF_8);
            write(fd, p, p.length);
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            byte[] one = new byte[1];
            while (read(fd, one, 1) == 1 && one[0] != '\n') {
                if (line.size() >= maxBytes) {
                    throw new IllegalArgumentException("the passphrase is longer than " + maxBytes + " bytes");
                }
                line.write(one[0]);
            }
            one[0] = 0;
            byte[] out = line.toByteArray();
            line.reset();
            return out;
        } catch (LastErrorException e) {
            throw new IllegalArgumentException("cannot read a passphrase from the terminal: "
                    + Native.getLastError());
        } finally {
            try {
                tcsetattr(fd, TCSADRAIN, saved);
            } catch (LastErrorException ignored) {
                // as above
            }
            if (restore != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(restore);
                } catch (IllegalStateException ignored) {
                    // shutting down: the hook runs anyway
                }
            }
            try {
                close(fd);
            } catch (LastErrorException ignored) {
                // nothing to do
            }
            Arrays.fill(saved, (byte) 0);
        }
    }

    private static int readInt(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }

    private static void writeInt(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
        b[at + 2] = (byte) (v >>> 16);
        b[at + 3] = (byte) (v >>> 24);
    }
}
