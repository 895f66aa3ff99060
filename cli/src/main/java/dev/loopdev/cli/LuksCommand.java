package dev.loopdev.cli;

import dev.loopdev.luks.LuksDump;
import dev.loopdev.luks.LuksException;
import dev.loopdev.luks.LuksFormat;
import dev.loopdev.luks.LuksImage;
import dev.loopdev.luks.Signatures;
import dev.loopdev.luks.VolumeKey;
import dev.loopdev.transforms.KeySource;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code loopdev luks ACTION}: create and manage LUKS1 and LUKS2 images as cryptsetup's luks* actions do, on plain
 * files and without device-mapper. Every image stays usable by {@code cryptsetup open}.
 */
@Command(name = "luks", mixinStandardHelpOptions = true,
        description = "Create and manage LUKS1/LUKS2 images, as cryptsetup's luksFormat, luksDump, luksAddKey, ...",
        subcommands = {LuksCommand.Format.class, LuksCommand.Dump.class, LuksCommand.AddKey.class,
            LuksCommand.RemoveKey.class, LuksCommand.ChangeKey.class, LuksCommand.KillSlot.class,
            LuksCommand.TestPassphrase.class, LuksCommand.HeaderBackup.class, LuksCommand.HeaderRestore.class})
final class LuksCommand {
    private static final Logger LOG = Logger.getLogger(LuksCommand.class.getName());

    @Mixin
    LogOptions log;

    private LuksCommand() {
    }

    /** The image and, for a detached header, the header file: what every action takes. */
    static final class Target {
        @Parameters(index = "0", paramLabel = "IMAGE", description = "The LUKS image (its data, with --header).")
        Path image;

        @Option(names = "--header", paramLabel = "FILE", description = "A detached LUKS header (cryptsetup --header).")
        Path header;

        Path headerFile() {
            return header != null ? header : image;
        }

        LuksImage open(boolean writable) throws IOException {
            LuksImage img = LuksImage.open(headerFile(), writable);
            for (String w : img.warnings()) {
                LOG.warning(headerFile() + ": " + w);
            }
            return img;
        }
    }

    /** Asks "Are you sure?" on the terminal as cryptsetup does, unless --batch; without a terminal, refuses. */
    static void confirm(String warning, boolean batch) throws IOException {
        if (batch) {
            return;
        }
        if (!KeySource.hasTerminal()) {
            throw new IllegalArgumentException(warning + "; --batch (or --force) to go ahead without asking");
        }
        String answer = KeySource.ask("WARNING!\n========\n" + warning + ".\n\nAre you sure? (Type 'yes' in capital "
                + "letters): ");
        if (!"YES".equals(answer)) {
            throw new IllegalArgumentException("Operation aborted.");
        }
    }

    static byte[] passphrase(KeySource key, String prompt, boolean verify) throws IOException {
        return key.passphrase(prompt, verify);
    }

    @Command(name = "format", mixinStandardHelpOptions = true,
            description = {"Write a new LUKS header (luksFormat), cryptsetup 2.6's defaults: LUKS2, aes-xts-plain64, "
                + "512-bit key, argon2id for 2 s, a 16 MiB header.",
                "Refuses an image holding a LUKS header or a known file system unless --force or --batch; on a "
                    + "terminal it asks instead."})
    static final class Format implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Option(names = "--type", paramLabel = "luks2|luks1", defaultValue = "luks2", description = "LUKS version.")
        String type;

        @Option(names = "--cipher", paramLabel = "SPEC", defaultValue = "aes-xts-plain64",
                description = "Data cipher (aes, twofish, serpent; cbc or xts; plain, plain64, essiv:sha256).")
        String cipher;

        @Option(names = "--key-size", paramLabel = "BITS",
                description = "Volume key size (default 512 for XTS, else 256).")
        Integer keyBits;

        @Option(names = "--hash", paramLabel = "HASH", defaultValue = "sha256",
                description = "Hash for PBKDF2, the AF splitter and the key digest.")
        String hash;

        @Option(names = "--offset", paramLabel = "SECTORS", defaultValue = "0",
                description = "Where the data starts, in 512-byte sectors (default: 16 MiB for LUKS2, 2 MiB for LUKS1, "
                        + "0 with --header).")
        long offsetSectors;

        @Mixin
        LuksFormatOptions format = new LuksFormatOptions();

        @Option(names = {"--force", "--batch", "--batch-mode"},
                description = "Overwrite without asking, even an image that holds a LUKS header or a file system.")
        boolean force;

        @Mixin
        KeyOptions key = new KeyOptions();

        @Override
        public Integer call() throws Exception {
            int version = Versions.parse(type);
            int bits = keyBits != null ? keyBits : cipher.contains("-xts-") ? 512 : 256;
            LuksFormat.Options o = new LuksFormat.Options(version, cipher, bits, format.sectorSize,
                    format.kdf.settings(version, hash), format.label, format.uuid, offsetSectors);
            Path overwritten = target.headerFile();
            if (!Files.exists(target.image)) {
                throw new java.nio.file.NoSuchFileException(target.image.toString());
            }
            String found = Files.exists(overwritten) ? Signatures.find(overwritten) : null;
            if (found != null) {
                confirm(overwritten + " holds a " + found + ": formatting overwrites it irrevocably", force);
            }
            byte[] pass = passphrase(key.source(), "Enter passphrase for " + target.image + ": ", true);
            try (VolumeKey vk = LuksFormat.format(overwritten, target.image, o, pass);
                 LuksImage img = LuksImage.open(overwritten, false)) {
                LOG.info(overwritten + ": LUKS" + version + " " + img.segment().cipher() + ", " + vk.length() * 8
                        + "-bit key, " + img.segment().sectorSize() + "-byte sectors, data at "
                        + img.segment().offsetBytes() + "; keyslot 0 added");
            } finally {
                Arrays.fill(pass, (byte) 0);
            }
            return 0;
        }
    }

    @Command(name = "dump", mixinStandardHelpOptions = true,
            description = "Print the header as cryptsetup luksDump does; never key material, unless "
                    + "--dump-volume-key with a passphrase and --volume-key-file.")
    static final class Dump implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Option(names = {"--json", "--dump-json-metadata"}, description = "The LUKS2 JSON metadata (LUKS1: the "
                + "header's fields as JSON).")
        boolean json;

        @Option(names = "--dump-volume-key", description = "Unlock and write the volume key to --volume-key-file.")
        boolean dumpVolumeKey;

        @Option(names = "--volume-key-file", paramLabel = "FILE",
                description = "Where --dump-volume-key writes the key (created, mode 0600; must not exist).")
        Path volumeKeyFile;

        @Option(names = "--key-slot", paramLabel = "N", defaultValue = "-1", description = "Try only this keyslot.")
        int slot;

        @Mixin
        KeyOptions key = new KeyOptions();

        @Override
        public Integer call() throws Exception {
            if (dumpVolumeKey != (volumeKeyFile != null)) {
                throw new IllegalArgumentException("--dump-volume-key writes the key only to a --volume-key-file");
            }
            try (LuksImage img = target.open(false)) {
                if (dumpVolumeKey) {
                    byte[] pass = passphrase(key.source(), "Enter passphrase for " + target.image + ": ", false);
                    try (VolumeKey vk = img.unlock(pass, slot)) {
                        writeSecret(volumeKeyFile, vk.bytes());
                    } finally {
                        Arrays.fill(pass, (byte) 0);
                    }
                    System.err.println("Key stored to file " + volumeKeyFile + ".");
                    return 0;
                }
                System.out.print(json ? LuksDump.json(img) + System.lineSeparator() : LuksDump.text(img));
                System.out.flush();
            }
            return 0;
        }
    }

    @Command(name = "add-key", mixinStandardHelpOptions = true,
            description = "Add a keyslot (luksAddKey): unlocked with an existing passphrase, protected by a new one.")
    static final class AddKey implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Parameters(index = "1", arity = "0..1", paramLabel = "NEW_KEY_FILE",
                description = "The new passphrase's key file (else --new-key-file, --new-passphrase-stdin or the "
                        + "terminal).")
        Path newKeyFile;

        @Option(names = "--key-slot", paramLabel = "N", defaultValue = "-1",
                description = "The new keyslot's number (default: the first free one).")
        int slot;

        @Option(names = "--hash", paramLabel = "HASH", defaultValue = "sha256",
                description = "LUKS2: hash for PBKDF2 and the AF splitter of the new keyslot (LUKS1 uses the header's).")
        String hash;

        @Mixin
        KdfOptions kdf = new KdfOptions();

        @Mixin
        KeyOptions key = new KeyOptions();

        @Mixin
        NewKeyOptions newKey = new NewKeyOptions();

        @Override
        public Integer call() throws Exception {
            try (LuksImage img = target.open(true)) {
                byte[] pass = passphrase(key.source(), "Enter any existing passphrase: ", false);
                try (VolumeKey vk = img.unlock(pass, -1)) {
                    byte[] added = passphrase(newKey.source(newKeyFile), "Enter new passphrase for key slot: ", true);
                    try {
                        int s = img.addKey(vk, added, kdf.settings(img.version(), hash), slot);
                        LOG.info(target.headerFile() + ": keyslot " + s + " added");
                    } finally {
                        Arrays.fill(added, (byte) 0);
                    }
                } finally {
                    Arrays.fill(pass, (byte) 0);
                }
            }
            return 0;
        }
    }

    @Command(name = "remove-key", mixinStandardHelpOptions = true,
            description = "Remove the keyslot a passphrase opens (luksRemoveKey).")
    static final class RemoveKey implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Option(names = {"--force", "--batch", "--batch-mode"},
                description = "Remove it even if it is the last keyslot (the image can never be opened again).")
        boolean force;

        @Mixin
        KeyOptions key = new KeyOptions();

        @Override
        public Integer call() throws Exception {
            try (LuksImage img = target.open(true)) {
                byte[] pass = passphrase(key.source(), "Enter passphrase to be deleted: ", false);
                try {
                    int s = img.removeKey(pass, force);
                    LOG.info(target.headerFile() + ": keyslot " + s + " removed");
                } finally {
                    Arrays.fill(pass, (byte) 0);
                }
            }
            return 0;
        }
    }

    @Command(name = "change-key", mixinStandardHelpOptions = true,
            description = "Change a passphrase (luksChangeKey); the new key material is written before the old is "
                    + "removed, so a crash leaves the old or the new passphrase working.")
    static final class ChangeKey implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Parameters(index = "1", arity = "0..1", paramLabel = "NEW_KEY_FILE",
                description = "The new passphrase's key file.")
        Path newKeyFile;

        @Option(names = "--key-slot", paramLabel = "N", defaultValue = "-1",
                description = "The keyslot whose passphrase changes (default: the one the passphrase opens).")
        int slot;

        @Option(names = "--hash", paramLabel = "HASH", defaultValue = "sha256",
                description = "LUKS2: hash for PBKDF2 and the AF splitter of the new key material.")
        String hash;

        @Mixin
        KdfOptions kdf = new KdfOptions();

        @Mixin
        KeyOptions key = new KeyOptions();

        @Mixin
        NewKeyOptions newKey = new NewKeyOptions();

        @Override
        public Integer call() throws Exception {
            try (LuksImage img = target.open(true)) {
                byte[] old = passphrase(key.source(), "Enter passphrase to be changed: ", false);
                byte[] changed = null;
                try {
                    changed = passphrase(newKey.source(newKeyFile), "Enter new passphrase: ", true);
                    int s = img.changeKey(old, changed, kdf.settings(img.version(), hash), slot);
                    LOG.info(target.headerFile() + ": passphrase changed, keyslot " + s);
                } finally {
                    Arrays.fill(old, (byte) 0);
                    if (changed != null) {
                        Arrays.fill(changed, (byte) 0);
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "kill-slot", mixinStandardHelpOptions = true,
            description = "Remove keyslot N (luksKillSlot): its key material is overwritten first.")
    static final class KillSlot implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Parameters(index = "1", paramLabel = "N", description = "The keyslot.")
        int slot;

        @Option(names = {"--force", "--batch", "--batch-mode"},
                description = "Remove it even if it is the last keyslot (the image can never be opened again).")
        boolean force;

        @Override
        public Integer call() throws Exception {
            try (LuksImage img = target.open(true)) {
                img.killSlot(slot, force);
                LOG.info(target.headerFile() + ": keyslot " + slot + " removed");
            }
            return 0;
        }
    }

    @Command(name = "test-passphrase", mixinStandardHelpOptions = true,
            description = "Exit 0 if the passphrase opens a keyslot (cryptsetup open --test-passphrase).")
    static final class TestPassphrase implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Option(names = "--key-slot", paramLabel = "N", defaultValue = "-1", description = "Try only this keyslot.")
        int slot;

        @Mixin
        KeyOptions key = new KeyOptions();

        @Override
        public Integer call() throws Exception {
            try (LuksImage img = target.open(false)) {
                byte[] pass = passphrase(key.source(), "Enter passphrase for " + target.image + ": ", false);
                try (VolumeKey vk = img.unlock(pass, slot)) {
                    LOG.info("Key slot " + vk.slot() + " unlocked.");
                } finally {
                    Arrays.fill(pass, (byte) 0);
                }
            }
            return 0;
        }
    }

    @Command(name = "header-backup", mixinStandardHelpOptions = true,
            description = "Save the header and its keyslot areas to a file (luksHeaderBackup).")
    static final class HeaderBackup implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Option(names = {"--file", "--header-backup-file"}, paramLabel = "FILE", required = true,
                description = "The backup to create (must not exist).")
        Path file;

        @Override
        public Integer call() throws Exception {
            try (LuksImage img = target.open(false)) {
                writeSecret(file, img.headerBytes());
                LOG.info(target.headerFile() + ": header saved to " + file);
            }
            return 0;
        }
    }

    @Command(name = "header-restore", mixinStandardHelpOptions = true,
            description = "Put a saved header back (luksHeaderRestore); the keyslots of the header it replaces are lost.")
    static final class HeaderRestore implements Callable<Integer> {
        @Mixin
        LogOptions log;

        @Mixin
        Target target = new Target();

        @Option(names = {"--file", "--header-backup-file"}, paramLabel = "FILE", required = true,
                description = "The backup made by header-backup (or cryptsetup luksHeaderBackup).")
        Path file;

        @Option(names = {"--force", "--batch", "--batch-mode"}, description = "Replace a different header without "
                + "asking.")
        boolean force;

        @Override
        public Integer call() throws Exception {
            byte[] backup;
            String backupUuid;
            long dataOffset;
            try (LuksImage b = LuksImage.open(file, false)) {
                backup = b.headerBytes();
                backupUuid = b.uuid();
                dataOffset = b.segment().offsetBytes();
            }
            Path dst = target.headerFile();
            if (target.header == null && dataOffset > 0 && backup.length > dataOffset) {
                throw new LuksException(file + ": the backup (" + backup.length + " bytes) is larger than the data "
                        + "offset it names (" + dataOffset + ")");
            }
            if (LuksImage.probe(dst) > 0) {
                try (LuksImage current = LuksImage.open(dst, false)) {
                    if (!current.uuid().equals(backupUuid)) {
                        confirm(dst + " holds another LUKS header (UUID " + current.uuid() + "); restoring replaces it "
                                + "and its keyslots", force);
                    }
                } catch (LuksException e) {
                    LOG.info(dst + ": the current header is unreadable (" + e.getMessage() + "); restoring over it");
                }
            }
            try (FileChannel ch = FileChannel.open(dst, StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(backup), 0);
                ch.force(false);
            }
            LOG.info(dst + ": header restored from " + file);
            return 0;
        }
    }

    /** Creates {@code file} with mode 0600 (it must not exist), writes {@code bytes} and syncs. */
    static void writeSecret(Path file, byte[] bytes) throws IOException {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes));
            ch.force(true);
        }
    }

    /** {@code --type luks1|luks2} as a version number. */
    static final class Versions {
        private Versions() {
        }

        static int parse(String type) {
            return switch (type.toLowerCase(java.util.Locale.ROOT)) {
                case "luks2" -> 2;
                case "luks1", "luks" -> 1;
                default -> throw new IllegalArgumentException("--type must be luks2 or luks1, not '" + type + "'");
            };
        }
    }
}
