package dev.loopdev.e2e;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * What a write storm did, sector by sector, for checking a device after its server was killed. Each sector has
 * one writer at a time (its owner), so the writes to it are totally ordered. Every write's sector contents name
 * the write and the sector, so what survived can be identified, and a torn sector shows.
 *
 * <p>A write is <i>acknowledged</i> when its reply arrived, <i>durable</i> when it was a FUA write or a FLUSH
 * issued after its acknowledgement (on any connection: the export is multi-conn) has completed.
 */
final class WriteHistory {
    static final int SECTOR = 512;
    private static final int MARKER = 0x0c7a54ed;

    private final byte[][] baseline;
    private final List<List<Long>> issued = new ArrayList<>();
    private final int[] acked;
    private final int[] durable;
    int torn;
    /** After a power cut: sectors whose last acknowledged write was lost (it was not durable, so it may be). */
    int lost;

    /** {@code device} is what the device held when the storm began. */
    WriteHistory(byte[] device) {
        int sectors = device.length / SECTOR;
        baseline = new byte[sectors][];
        acked = new int[sectors];
        durable = new int[sectors];
        Arrays.fill(acked, -1);
        Arrays.fill(durable, -1);
        for (int s = 0; s < sectors; s++) {
            baseline[s] = Arrays.copyOfRange(device, s * SECTOR, (s + 1) * SECTOR);
            issued.add(new ArrayList<>());
        }
    }

    int sectors() {
        return acked.length;
    }

    /** Records a write of {@code count} sectors from {@code first} about to be sent; returns its payload. */
    synchronized byte[] issue(long id, int first, int count) {
        ByteBuffer b = ByteBuffer.allocate(count * SECTOR);
        for (int s = first; s < first + count; s++) {
            issued.get(s).add(id);
            b.put(content(id, s));
        }
        return b.array();
    }

    synchronized void acked(int first, int count, boolean fua) {
        for (int s = first; s < first + count; s++) {
            acked[s] = issued.get(s).size() - 1;
            if (fua) {
                durable[s] = acked[s];
            }
        }
    }

    /** Taken when a FLUSH is sent; {@link #flushed} with it once the FLUSH succeeded. */
    synchronized int[] flushIssued() {
        return acked.clone();
    }

    synchronized void flushed(int[] ackedAtIssue) {
        for (int s = 0; s < durable.length; s++) {
            durable[s] = Math.max(durable[s], ackedAtIssue[s]);
        }
    }

    /**
     * Checks what the device holds now: every sector is its baseline or one of the writes issued to it, whole;
     * never older than its last durable write (the contract) nor than its last acknowledged one (what a killed
     * process, whose page cache lives on, must also keep). Returns a description of the first violation, or null.
     *
     * <p>{@code tornInFlight} allows a sector that a write in flight at the kill was copying into to hold part of
     * it: the mapped path copies with plain stores into the page cache, which SIGKILL can stop at any byte, where
     * pwrite copies whole pages before it looks at a fatal signal. Such sectors are counted in {@link #torn}.
     */
    synchronized String check(byte[] device, boolean tornInFlight) {
        return check(device, tornInFlight, true);
    }

    /**
     * As {@link #check(byte[], boolean)} after a power cut, which may lose what was acknowledged but not made
     * durable: each sector must hold its baseline or a write issued to it, never older than its last durable one.
     */
    synchronized String checkAfterPowerCut(byte[] device, boolean tornInFlight) {
        return check(device, tornInFlight, false);
    }

    private String check(byte[] device, boolean tornInFlight, boolean keepsAcknowledged) {
        for (int s = 0; s < acked.length; s++) {
            byte[] now = Arrays.copyOfRange(device, s * SECTOR, (s + 1) * SECTOR);
            List<Long> writes = issued.get(s);
            int which = -2; // -1: the baseline
            if (Arrays.equals(now, baseline[s])) {
                which = -1;
            }
            for (int i = writes.size() - 1; i >= 0 && which == -2; i--) {
                if (Arrays.equals(now, content(writes.get(i), s))) {
                    which = i;
                }
            }
            if (which == -2 && tornInFlight && writes.size() - 1 > acked[s]) {
                torn++;
                continue;
            }
            if (which == -2) {
                return "sector " + s + " holds neither its old contents nor any write issued to it (torn?)";
            }
            if (which < durable[s]) {
                return "sector " + s + ": durable write #" + durable[s] + " lost, the sector holds #" + which;
            }
            if (!keepsAcknowledged && which < acked[s]) {
                lost++;
            }
            if (keepsAcknowledged && which < acked[s]) {
                return "sector " + s + ": acknowledged write #" + acked[s] + " lost (not durable yet, but a killed "
                        + "process must not lose what reached the page cache), the sector holds #" + which;
            }
        }
        return null;
    }

    /** Counts, for the report: {writes acknowledged, sectors whose last acknowledged write was durable}. */
    synchronized int[] counts() {
        int ack = 0;
        int dur = 0;
        for (int s = 0; s < acked.length; s++) {
            ack += acked[s] + 1;
            dur += acked[s] >= 0 && durable[s] == acked[s] ? 1 : 0;
        }
        return new int[] {ack, dur};
    }

    static byte[] content(long id, int sector) {
        ByteBuffer b = ByteBuffer.allocate(SECTOR).putLong(id).putInt(sector).putInt(MARKER);
        Random fill = new Random(id * 1_000_003 + sector);
        byte[] rest = new byte[SECTOR - 16];
        fill.nextBytes(rest);
        return b.put(rest).array();
    }
}
