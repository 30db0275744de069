# Swiftlet build: freestanding images with swiftc/clang/ld.lld directly, hosted
# code and tests with SwiftPM. `make help` lists the targets.
#
# Images: build/$(TARGET)/$(APP).elf (stripped) and $(APP).dbg.elf (symbols),
# for TARGET=pc (QEMU, Multiboot + PVH) and TARGET=hvt (Solo5 hvt ABI).

SHELL        := /bin/bash
TOOLCHAIN    ?= $(shell dirname $$(dirname $$(readlink -f $$(command -v swiftc 2>/dev/null || echo /opt/swift/usr/bin/swiftc))))
SWIFTC       := $(TOOLCHAIN)/bin/swiftc
CLANG        := $(TOOLCHAIN)/bin/clang
LD           := $(TOOLCHAIN)/bin/ld.lld
OBJCOPY      := $(TOOLCHAIN)/bin/llvm-objcopy
OBJDUMP      := $(TOOLCHAIN)/bin/llvm-objdump
EMBEDDED_LIB := $(TOOLCHAIN)/lib/swift/embedded/x86_64-unknown-none-elf

TARGET       ?= pc
APP          ?= hello
MACHINE      ?= microvm
BOOT         ?= multiboot
MEM          ?= 32
SWIFT_OPT    ?= -Osize
ARGS         ?=
DISK         ?=
NET          ?=

BUILD        := build
OUT          := $(BUILD)/$(TARGET)
MODS         := $(OUT)/modules
CPU_INCLUDE  := Sources/Platform/X86_64/CPU/include

# --- what each image platform is made of ------------------------------------
# pc: SSE on (the boot code enables it). hvt: integer-only, because this
# machine's KVM cannot run SSE or x87 guest code (../shared/notes/machine.md).
APPS_pc          := hello fault boottime swiftcheck clock threads blktest netecho echo httpd fetch
APPS_hvt         := hello fault boottime clock blktest netecho threads echo httpd fetch
PLATFORM_pc      := PlatformPC
PLATFORM_hvt     := PlatformHvt
PLATFORMDIR_pc   := Sources/Platform/PC/Swift
PLATFORMDIR_hvt  := Sources/Platform/Hvt/Swift
BOOT_pc          := boot/pc/entry.S
BOOT_hvt         := boot/hvt/entry.S
SWIFT_ARCH_pc    :=
SWIFT_ARCH_hvt   := -Xcc -mno-sse -Xcc -mno-sse2
C_ARCH_pc        :=
C_ARCH_hvt       := -mno-sse -mno-sse2 -mno-mmx
MODULES_hvt_EXTRA := HvtABI
# Device drivers, linked only into images whose applications ask for devices
# (pc: PCI and MMIO discovery, the virtio transports, the virtio drivers).
DRIVER_OBJS_pc    := $(MODS)/Virtio.o $(MODS)/PCVirtio.o

APPS         := $(APPS_$(TARGET))
PLATFORM     := $(PLATFORM_$(TARGET))

SWIFT_EMBEDDED := -target x86_64-unknown-none-elf -enable-experimental-feature Embedded \
    -enable-experimental-feature Extern -enable-experimental-feature Volatile -package-name swiftlet -wmo -parse-as-library $(SWIFT_OPT) -g -swift-version 5 \
    -Xfrontend -disable-stack-protector -Xfrontend -function-sections -Xcc -mno-red-zone \
    -Xfrontend -trap-function -Xfrontend swiftlet_trap -I $(MODS) -I $(CPU_INCLUDE) \
    $(SWIFT_ARCH_$(TARGET)) $(SWIFT_EXTRA)
CFLAGS_FREE  := --target=x86_64-unknown-none-elf -ffreestanding -fno-builtin -fno-stack-protector \
    -mno-red-zone -fno-pic -O2 -g -ffunction-sections -Wall -Werror $(C_ARCH_$(TARGET))
LDFLAGS      := -static --gc-sections -z max-page-size=4096 -z norelro -T linker/$(TARGET).ld $(LD_EXTRA)

# hvt has no floating point at all, so no libm: a use of it fails to link.
RUNTIME_pc   := alloc string math
RUNTIME_hvt  := alloc string
RUNTIME_OBJS := $(foreach r,$(RUNTIME_$(TARGET)),$(OUT)/runtime/$(r).o)
BOOT_OBJS    := $(OUT)/boot/entry.o $(OUT)/boot/exceptions.o $(OUT)/boot/storage.o \
    $(if $(filter hvt,$(TARGET)),$(OUT)/boot/abi-note.o)
# Scheduler, Threads and the drivers come last, each after the modules it
# uses: their sections (and the class metadata in their .data) are linked
# only into images that use them. Order matters because generic
# specialisations are weak symbols in every module that uses them and the
# linker takes the first: it must come from a module the image needs anyway.
# Each module object depends on every module it imports directly: swiftc leaves
# an unchanged object's timestamp alone, so a chain would stop at it.
KERNEL_OBJS  := $(MODS)/Heap.o $(MODS)/Swiftlet.o $(MODS)/X86.o $(OUT)/context.o \
    $(if $(MODULES_$(TARGET)_EXTRA),$(MODS)/HvtABI.o) $(MODS)/$(PLATFORM).o $(RUNTIME_OBJS) \
    $(MODS)/Scheduler.o $(MODS)/Threads.o $(DRIVER_OBJS_$(TARGET)) $(MODS)/Net.o $(MODS)/NetHost.o $(MODS)/Sockets.o $(MODS)/HTTP.o

.PHONY: all images target-images hosted run test bench size debug clean help check-tools
.DELETE_ON_ERROR:
.SECONDARY:
.SECONDEXPANSION:

all: images hosted

help:
	@echo "make              build every image (build/pc/*.elf, build/hvt/*.elf) and the hosted programs"
	@echo "make run          build hello and boot it under QEMU (TCG, microvm)"
	@echo "                  APP=fault ARGS='divide' MACHINE=pc|q35|microvm BOOT=multiboot|pvh MEM=MiB"
	@echo "                  DISK=disk.img NET=tap0 attach virtio-blk / virtio-net (PCI on pc/q35, MMIO on microvm)"
	@echo "make run TARGET=hvt   build hello for hvt and boot it under our KVM monitor"
	@echo "make test         run every test (XCTest: hosted units, QEMU and monitor boot tests)"
	@echo "make bench        print benchmark figures as NAME VALUE UNIT"
	@echo "make size         print image sizes"
	@echo "make fuzz         run every libFuzzer target FUZZ_SECONDS (default 120) on its seed corpus (fuzz/run.sh)"
	@echo "make debug        boot APP paused under QEMU's gdb server and print the gdb command"

check-tools:
	@tools/check-tools build

images: check-tools
	@$(MAKE) --no-print-directory target-images TARGET=pc
	@$(MAKE) --no-print-directory target-images TARGET=hvt

target-images: $(foreach app,$(APPS),$(OUT)/$(app).elf) $(OUT)/floor.elf

# --- modules ------------------------------------------------------------------

$(MODS)/Heap.o: $(wildcard Sources/Heap/*.swift)
	@mkdir -p $(@D)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Heap -emit-module -emit-module-path $(MODS)/Heap.swiftmodule -c $^ -o $@

$(MODS)/HvtABI.o: $(wildcard Sources/HvtABI/*.swift)
	@mkdir -p $(@D)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name HvtABI -emit-module -emit-module-path $(MODS)/HvtABI.swiftmodule -c $^ -o $@

$(MODS)/Scheduler.o: $(wildcard Sources/Scheduler/*.swift)
	@mkdir -p $(@D)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Scheduler -emit-module -emit-module-path $(MODS)/Scheduler.swiftmodule -c $^ -o $@

$(MODS)/Swiftlet.o: $(wildcard Sources/Swiftlet/*.swift) $(MODS)/Heap.o
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Swiftlet -emit-module -emit-module-path $(MODS)/Swiftlet.swiftmodule -c $(filter %.swift,$^) -o $@

$(MODS)/Threads.o: $(wildcard Sources/Threads/*.swift) $(MODS)/Swiftlet.o $(MODS)/Scheduler.o
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Threads -emit-module -emit-module-path $(MODS)/Threads.swiftmodule -c $(filter %.swift,$^) -o $@

$(MODS)/Virtio.o: $(wildcard Sources/Virtio/*.swift) $(MODS)/Swiftlet.o
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Virtio -emit-module -emit-module-path $(MODS)/Virtio.swiftmodule -c $(filter %.swift,$^) -o $@

$(MODS)/PCVirtio.o: $(wildcard Sources/Platform/PC/Virtio/*.swift) $(MODS)/Swiftlet.o $(MODS)/X86.o $(MODS)/Virtio.o $(MODS)/Threads.o
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name PCVirtio -c $(filter %.swift,$^) -o $@

$(MODS)/Net.o: $(wildcard Sources/Net/*.swift)
	@mkdir -p $(@D)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Net -emit-module -emit-module-path $(MODS)/Net.swiftmodule -c $^ -o $@

$(MODS)/NetHost.o: $(wildcard Sources/NetHost/*.swift) $(MODS)/Net.o $(MODS)/Swiftlet.o $(MODS)/Threads.o
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name NetHost -emit-module -emit-module-path $(MODS)/NetHost.swiftmodule -c $(filter %.swift,$^) -o $@

$(MODS)/Sockets.o: $(wildcard Sources/Sockets/*.swift) $(MODS)/Net.o $(MODS)/NetHost.o $(MODS)/Swiftlet.o $(MODS)/Threads.o
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Sockets -emit-module -emit-module-path $(MODS)/Sockets.swiftmodule -c $(filter %.swift,$^) -o $@

$(MODS)/HTTP.o: $(wildcard Sources/HTTP/*.swift)
	@mkdir -p $(@D)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name HTTP -emit-module -emit-module-path $(MODS)/HTTP.swiftmodule -c $^ -o $@

$(MODS)/X86.o: $(wildcard Sources/Platform/X86_64/Swift/*.swift) $(MODS)/Swiftlet.o $(wildcard $(CPU_INCLUDE)/*)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name X86 -emit-module -emit-module-path $(MODS)/X86.swiftmodule -c $(filter %.swift,$^) -o $@

$(MODS)/$(PLATFORM).o: $(wildcard $(PLATFORMDIR_$(TARGET))/*.swift) $(MODS)/Swiftlet.o $(MODS)/X86.o \
        $(if $(MODULES_$(TARGET)_EXTRA),$(MODS)/HvtABI.o)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name $(PLATFORM) -c $(filter %.swift,$^) -o $@

APPDIR_hello := Hello
APPDIR_fault := Fault
APPDIR_boottime := BootTime
APPDIR_swiftcheck := SwiftCheck
APPDIR_clock := Clock
APPDIR_blktest := BlockTest
APPDIR_netecho := NetEcho
APPDIR_threads := ThreadCheck
APPDIR_echo := EchoService
APPDIR_fetch := Fetch
APPDIR_httpd := HTTPService

$(MODS)/app-%.o: $(MODS)/Swiftlet.o $(MODS)/Threads.o $(MODS)/Net.o $(MODS)/NetHost.o $(MODS)/Sockets.o $(MODS)/HTTP.o $$(wildcard Sources/Apps/$$(APPDIR_$$*)/*.swift)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name $(APPDIR_$*) -c $(wildcard Sources/Apps/$(APPDIR_$*)/*.swift) -o $@

# --- boot code, runtime, manifest --------------------------------------------

$(OUT)/boot/entry.o: $(BOOT_$(TARGET))
	@mkdir -p $(@D)
	$(CLANG) --target=x86_64-unknown-none-elf -g -c $< -o $@

$(OUT)/boot/%.o: boot/x86_64/%.S
	@mkdir -p $(@D)
	$(CLANG) --target=x86_64-unknown-none-elf -g -c $< -o $@

$(OUT)/boot/floor.o $(OUT)/boot/abi-note.o: $(OUT)/boot/%.o: boot/$(TARGET)/%.S
	@mkdir -p $(@D)
	$(CLANG) --target=x86_64-unknown-none-elf -g -c $< -o $@

# The context switch the hosted build tests (Sources/Context); hvt keeps no FPU state.
CONTEXT_DEFS_hvt := -DSWIFTLET_NO_FPU
$(OUT)/context.o: Sources/Context/context.S
	@mkdir -p $(@D)
	$(CLANG) --target=x86_64-unknown-none-elf -g $(CONTEXT_DEFS_$(TARGET)) -c $< -o $@

$(OUT)/runtime/%.o: Sources/Runtime/%.c
	@mkdir -p $(@D)
	$(CLANG) $(CFLAGS_FREE) -c $< -o $@

# hvt: each application's Solo5 manifest note, from Sources/Apps/<App>/manifest
# (one `block NAME` or `net NAME` a line; no file: no devices).
$(OUT)/manifest-%.o: tools/hvt-manifest $$(wildcard Sources/Apps/$$(APPDIR_$$*)/manifest)
	@mkdir -p $(@D)
	tools/hvt-manifest $(wildcard Sources/Apps/$(APPDIR_$*)/manifest) > $(OUT)/manifest-$*.S
	$(CLANG) --target=x86_64-unknown-none-elf -c $(OUT)/manifest-$*.S -o $@

MANIFEST_OBJ = $(if $(filter hvt,$(TARGET)),$(OUT)/manifest-$*.o)

# --- images -------------------------------------------------------------------

FLOOR_MANIFEST := $(if $(filter hvt,$(TARGET)),$(OUT)/manifest-floor.o $(OUT)/boot/abi-note.o)
$(OUT)/floor.dbg.elf: $(OUT)/boot/floor.o $(FLOOR_MANIFEST) linker/$(TARGET).ld
	$(LD) $(LDFLAGS) -o $@ $< $(FLOOR_MANIFEST)

# A direct call of _swift_dead_method_stub is a method the Embedded compiler
# dropped but still calls (seen with a protocol extension method called on an
# `any` existential): it would trap at run time, so the link fails instead.
$(OUT)/%.dbg.elf: $(MODS)/app-%.o $(KERNEL_OBJS) $(BOOT_OBJS) $$(MANIFEST_OBJ) linker/$(TARGET).ld
	$(LD) $(LDFLAGS) -o $@ $(BOOT_OBJS) $(MANIFEST_OBJ) $(KERNEL_OBJS) $< $(EMBEDDED_LIB)/libswiftUnicodeDataTables.a
	@if $(OBJDUMP) -d $@ | grep -m1 'call.*<_swift_dead_method_stub>'; then \
	    echo "$@: calls a method the compiler removed (see above)" >&2; rm -f $@; exit 1; fi

$(OUT)/%.elf: $(OUT)/%.dbg.elf
	$(OBJCOPY) --strip-all $< $@

# --- hosted programs and tests ---------------------------------------------

hosted:
	swift build -c release --product swiftlet
	swift build -c release --product swiftlet-hvt
	swift build -c release --product hello
	swift build -c release --product fault
	swift build -c release --product swiftcheck
	swift build -c release --product threads

# --- running ----------------------------------------------------------------

RUNNER  := .build/release/swiftlet
MONITOR := .build/release/swiftlet-hvt

$(RUNNER): $(shell find Sources/Tools -name '*.swift' 2>/dev/null) Package.swift
	swift build -c release --product swiftlet

$(MONITOR): $(shell find Sources/Monitor Sources/HvtABI -name '*.swift' -o -name '*.[ch]' 2>/dev/null) Package.swift
	swift build -c release --product swiftlet-hvt

ifeq ($(TARGET),hvt)
run: check-tools $(OUT)/$(APP).elf $(MONITOR)
	$(MONITOR) --mem=$(MEM) $(OUT)/$(APP).elf $(ARGS)
else
run: check-tools $(OUT)/$(APP).elf $(RUNNER)
	@tools/check-tools qemu
	$(RUNNER) run --machine $(MACHINE) --boot $(BOOT) --mem $(MEM) $(if $(DISK),--block $(DISK)) \
	    $(if $(NET),--net $(NET)) $(OUT)/$(APP).elf -- $(ARGS)
endif

debug: check-tools $(OUT)/$(APP).elf $(RUNNER)
	@tools/check-tools qemu
	$(RUNNER) debug --machine $(MACHINE) --boot $(BOOT) --mem $(MEM) $(OUT)/$(APP).elf -- $(ARGS)

test: images
	@tools/check-tools qemu test
	swift build --build-tests
	SWIFTLET_IMAGES=$(CURDIR)/$(BUILD) swift test --skip-build --disable-swift-testing

bench: images $(RUNNER)
	@tools/check-tools qemu bench
	@bench/run

# libFuzzer targets (hosted, ASan): fuzz/<name>/ with seeds in fuzz/corpus/<name>/.
FUZZ_SECONDS ?= 120
.PHONY: fuzz
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

size: images
	@for f in $(BUILD)/*/*.elf; do case $$f in *.dbg.elf) ;; *) printf '%-28s %8d bytes\n' $$f $$(stat -c %s $$f);; esac; done

clean:
	rm -rf $(BUILD) .build
