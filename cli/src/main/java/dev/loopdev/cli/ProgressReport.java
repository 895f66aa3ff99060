package dev.loopdev.cli;

import dev.loopdev.transforms.ImageConverter;
import java.io.PrintStream;

/**
 * Progress on stderr: a bar redrawn in place on a terminal, otherwise a plain line every 10%, so logs stay
 * readable.
 */
final class ProgressReport implements ImageConverter.Progress, AutoCloseable {
    private static final int BAR_WIDTH = 40;

    private final PrintStream out;
    private final String what;
    private final boolean terminal = System.console() != null;
    private int lastShown = -1;
    private final long startNanos = System.nanoTime();

    ProgressReport(PrintStream out, String what) {
        this.out = out;
        this.what = what;
    }

    @Override
    public void update(long doneBytes, long totalBytes) {
        int percent = totalBytes == 0 ? 100 : (int) (doneBytes * 100 / totalBytes);
        if (terminal) {
            if (percent != lastShown) {
                int filled = percent * BAR_WIDTH / 100;
                out.printf("\r%s [%s%s] %3d%% %s", what, "#".repeat(filled), " ".repeat(BAR_WIDTH - filled), percent,
                        rate(doneBytes));
                out.flush();
            }
        } else if (percent / 10 != lastShown / 10 || lastShown < 0) {
            out.printf("%s: %d%% (%d of %d bytes)%n", what, percent, doneBytes, totalBytes);
        }
        lastShown = percent;
    }

    private String rate(long doneBytes) {
        double secs = (System.nanoTime() - startNanos) / 1e9;
        return secs <= 0 ? "" : String.format("%.0f MB/s", doneBytes / secs / 1e6);
    }

    @Override
    public void close() {
        if (terminal && lastShown >= 0) {
            out.println();
        }
    }
}
