package dev.loopdev.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** Whole-buffer reads and writes on a blocking channel. */
final class Wire {
    private Wire() {
    }

    /** Fills {@code dst}; an end of stream before it is full is an {@link EOFException}. */
    static void readFully(ReadableByteChannel ch, ByteBuffer dst) throws IOException {
        while (dst.hasRemaining()) {
            if (ch.read(dst) < 0) {
                throw new EOFException("the client closed the connection");
            }
        }
    }

    /** Reads exactly {@code n} bytes into a fresh heap buffer, flipped for reading (handshake only). */
    static ByteBuffer read(ReadableByteChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readFully(ch, b);
        return b.flip();
    }

    static void writeFully(WritableByteChannel ch, ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
            ch.write(src);
        }
    }
}
