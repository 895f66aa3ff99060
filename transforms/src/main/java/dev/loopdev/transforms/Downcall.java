package dev.loopdev.transforms;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * A downcall through the JDK's foreign function interface (Java 22 and later): the cheapest way from Java into C,
 * a few nanoseconds where a JNA call costs about 150. The project is built for Java 17, so the interface is reached
 * by reflection, once; what it returns is an ordinary {@link MethodHandle} whose {@code invokeExact} the JIT
 * compiles into the call. Pointers are passed as {@code long}s (one 64-bit integer register, as a C pointer is on
 * the 64-bit ABIs loopdev runs on).
 *
 * <p>Calls are linked as <i>critical</i> ({@code Linker.Option.critical(false)}): no thread-state transition, so
 * the function must be short, must not block and must not call back into Java, which a cipher call over one sector
 * satisfies. The JDK allows this only where native access is enabled for loopdev's code ({@code
 * Enable-Native-Access: ALL-UNNAMED} in the jar's manifest, or {@code --enable-native-access}); otherwise, as on
 * Java 17, {@link #link} returns null and the caller keeps its JNA binding.
 */
final class Downcall {
    /**
     * How XTS reaches libcrypto, for A/B benchmarks and tests: unset or {@code jni}, a request's sectors in one call
     * to {@link XtsSectors} where it loads; {@code ffm}, a call per sector through the foreign function interface
     * where the JDK has it; {@code jna}, a call per sector through JNA, never linking through the interface.
     */
    static final String PROPERTY = "loopdev.downcall";

    private Downcall() {
    }

    /**
     * A handle of type {@code (long, long, long, int)int} calling the C function at {@code address}, or null where
     * the foreign function interface is missing, not enabled for loopdev, or turned off by {@link #PROPERTY}.
     */
    static MethodHandle intOfLongLongLongInt(long address) {
        return link(address, int.class, long.class, long.class, long.class, int.class);
    }

    static MethodHandle link(long address, Class<?> returns, Class<?>... parameters) {
        if ("jna".equals(System.getProperty(PROPERTY)) || address == 0) {
            return null;
        }
        try {
            Method enabled = Module.class.getMethod("isNativeAccessEnabled");
            if (!(Boolean) enabled.invoke(Downcall.class.getModule())) {
                return null; // the call would print the JDK's warning about restricted methods
            }
            Class<?> linkerClass = Class.forName("java.lang.foreign.Linker");
            Class<?> option = Class.forName("java.lang.foreign.Linker$Option");
            Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
            Class<?> layout = Class.forName("java.lang.foreign.MemoryLayout");
            Class<?> descriptor = Class.forName("java.lang.foreign.FunctionDescriptor");
            Object linker = linkerClass.getMethod("nativeLinker").invoke(null);
            Object target = segment.getMethod("ofAddress", long.class).invoke(null, address);
            Object args = Array.newInstance(layout, parameters.length);
            for (int i = 0; i < parameters.length; i++) {
                Array.set(args, i, layoutOf(parameters[i]));
            }
            Object function = descriptor.getMethod("of", layout, args.getClass())
                    .invoke(null, layoutOf(returns), args);
            Object options = Array.newInstance(option, 1);
            Array.set(options, 0, option.getMethod("critical", boolean.class).invoke(null, false));
            return (MethodHandle) linkerClass.getMethod("downcallHandle", segment, descriptor, options.getClass())
                    .invoke(linker, target, function, options);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null; // before Java 22, or a JDK without the interface
        }
    }

    /**
     * A handle of type {@code (ByteBuffer)long} giving the native address of a direct buffer's position ({@code
     * MemorySegment.ofBuffer(b).address()}, which the JIT folds into a field read), or null before Java 22 or with
     * {@link #PROPERTY} {@code jna}. Unlike a downcall it is not restricted: native access need not be enabled.
     */
    static MethodHandle bufferAddress() {
        if ("jna".equals(System.getProperty(PROPERTY))) {
            return null;
        }
        try {
            Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            MethodHandle ofBuffer = lookup.findStatic(segment, "ofBuffer",
                    MethodType.methodType(segment, Buffer.class));
            MethodHandle address = lookup.findVirtual(segment, "address",
                    MethodType.methodType(long.class));
            return MethodHandles.filterReturnValue(ofBuffer, address)
                    .asType(MethodType.methodType(long.class, ByteBuffer.class));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null;
        }
    }

    private static Object layoutOf(Class<?> type) throws ReflectiveOperationException {
        String name = type == long.class ? "JAVA_LONG" : type == int.class ? "JAVA_INT" : null;
        if (name == null) {
            throw new IllegalArgumentException("no layout for " + type);
        }
        return Class.forName("java.lang.foreign.ValueLayout").getField(name).get(null);
    }
}
