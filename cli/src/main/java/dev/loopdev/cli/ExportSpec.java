package dev.loopdev.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** One export on the command line: {@code serve IMAGE [--export NAME]} and {@code --export NAME=IMAGE}. */
record ExportSpec(String name, Path image) {

    /** The exports in command-line order, IMAGE's first; at least one, with distinct names. */
    static List<ExportSpec> resolve(Path image, List<String> specs) {
        List<ExportSpec> out = new ArrayList<>();
        String imageName = null;
        for (String s : specs) {
            int eq = s.indexOf('=');
            if (eq < 0) {
                if (image == null) {
                    throw new IllegalArgumentException("--export " + s + ": names IMAGE's export, but no IMAGE was "
                            + "given (use --export NAME=IMAGE)");
                }
                if (imageName != null) {
                    throw new IllegalArgumentException("IMAGE's export is named twice: '" + imageName + "' and '"
                            + s + "'");
                }
                imageName = s;
            } else if (eq == s.length() - 1) {
                throw new IllegalArgumentException("--export " + s + ": no image after '='");
            } else {
                out.add(new ExportSpec(s.substring(0, eq), Path.of(s.substring(eq + 1))));
            }
        }
        if (image != null) {
            out.add(0, new ExportSpec(imageName == null ? "" : imageName, image));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("nothing to serve: give IMAGE or --export NAME=IMAGE");
        }
        Set<String> names = new HashSet<>();
        for (ExportSpec e : out) {
            if (!names.add(e.name())) {
                throw new IllegalArgumentException("two exports named '" + e.name() + "'");
            }
        }
        return out;
    }
}
