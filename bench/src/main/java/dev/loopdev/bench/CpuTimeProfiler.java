package dev.loopdev.bench;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * Operations per second of the benchmark process's CPU time (user + system, every thread), next to JMH's
 * operations per second of wall-clock time: {@code -prof dev.loopdev.bench.CpuTimeProfiler}.
 *
 * <p>On a machine shared with other work the wall-clock score falls whenever the benchmark thread waits for a core;
 * the CPU-time score does not, which is also how {@code openssl speed} counts by default (user CPU time; {@code
 * -elapsed} switches it to wall-clock). After warm-up the JIT compiler and the collector are idle in these
 * benchmarks, so the process's CPU time is the benchmark thread's.
 */
public final class CpuTimeProfiler implements InternalProfiler {
    private final com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private long cpuStartNanos;

    @Override
    public String getDescription() {
        return "operations per CPU second of the benchmark process (user + system)";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        cpuStartNanos = os.getProcessCpuTime();
    }

    @Override
    public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams,
            IterationParams iterationParams, IterationResult result) {
        long cpuNanos = os.getProcessCpuTime() - cpuStartNanos;
        long ops = result.getMetadata().getMeasuredOps();
        double perCpuSecond = cpuNanos <= 0 ? Double.NaN : ops * 1e9 / cpuNanos;
        return List.of(new ScalarResult("cpu", perCpuSecond, "ops/cpu-s", AggregationPolicy.AVG));
    }
}
