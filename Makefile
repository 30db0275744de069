# Swiftlet build: freestanding images with swiftc/clang/ld.lld directly, hosted
# code and tests with SwiftPM. `make help` lists the targets.
#
# Images: build/$(PLATFORM)/$(APP).elf (stripped) and $(APP).dbg.elf (symbols).

SHELL        := /bin/bash
TOOLCHAIN    ?= $(shell dirname $$(dirname $$(readlink -f $$(command -v swiftc 2>/dev/null || echo /opt/swift/usr/bin/swiftc))))
SWIFTC       := $(TOOLCHAIN)/bin/swiftc
CLANG        := $(TOOLCHAIN)/bin/clang
LD           := $(TOOLCHAIN)/bin/ld.lld
OBJCOPY      := $(TOOLCHAIN)/bin/llvm-objcopy
EMBEDDED_LIB := $(TOOLCHAIN)/lib/swift/embedded/x86_64-unknown-none-elf

TARGET       ?= pc
APP          ?= hello
APPS         := hello fault boottime swiftcheck
MACHINE      ?= microvm
BOOT         ?= multiboot
MEM          ?= 32
SWIFT_OPT    ?= -Osize
ARGS         ?=

BUILD        := build
OUT          := $(BUILD)/$(TARGET)
MODS         := $(OUT)/modules

# Embedded Swift for x86_64 bare metal. SSE stays on for pc (the boot code enables it).
SWIFT_EMBEDDED := -target x86_64-unknown-none-elf -enable-experimental-feature Embedded \
    -enable-experimental-feature Extern -wmo -parse-as-library $(SWIFT_OPT) -g -swift-version 5 \
    -Xfrontend -disable-stack-protector -Xfrontend -function-sections -Xcc -mno-red-zone \
    -Xfrontend -trap-function -Xfrontend swiftlet_trap -I $(MODS) -I Sources/Platform/PC/CPU/include $(SWIFT_EXTRA)
CFLAGS_FREE  := --target=x86_64-unknown-none-elf -ffreestanding -fno-builtin -fno-stack-protector \
    -mno-red-zone -fno-pic -O2 -g -ffunction-sections -Wall -Werror
LDFLAGS_PC   := -static --gc-sections -z max-page-size=4096 -z norelro --no-rosegment -T linker/pc.ld $(LD_EXTRA)

PORTABLE_MODULES := Heap Swiftlet
Heap_SRC         := $(wildcard Sources/Heap/*.swift)
Swiftlet_SRC     := $(wildcard Sources/Swiftlet/*.swift)
PlatformPC_SRC   := $(wildcard Sources/Platform/PC/Swift/*.swift)
RUNTIME_SRC      := $(wildcard Sources/Runtime/*.c)
CPU_HEADERS      := $(wildcard Sources/Platform/PC/CPU/include/*)

pc_BOOT_OBJS := $(OUT)/boot/entry.o $(OUT)/boot/exceptions.o
pc_KERNEL_OBJS := $(MODS)/Heap.o $(MODS)/Swiftlet.o $(MODS)/PlatformPC.o \
    $(patsubst Sources/Runtime/%.c,$(OUT)/runtime/%.o,$(RUNTIME_SRC))

.PHONY: all images hosted run test test-hosted bench size debug clean help check-tools tools
.DELETE_ON_ERROR:
.SECONDARY:
.SECONDEXPANSION:

all: images hosted

help:
	@echo "make              build every image (build/pc/*.elf) and the hosted programs"
	@echo "make run          build hello and boot it under QEMU (TCG, microvm)"
	@echo "                  APP=fault ARGS='divide' MACHINE=pc|q35|microvm BOOT=multiboot|pvh MEM=MiB"
	@echo "make test         run every test (XCTest: hosted units and QEMU boot tests)"
	@echo "make bench        print benchmark figures as NAME VALUE UNIT"
	@echo "make size         print image sizes"
	@echo "make debug        boot APP paused under QEMU's gdb server and print the gdb command"

check-tools:
	@tools/check-tools build

images: check-tools $(foreach app,$(APPS),$(OUT)/$(app).elf) $(OUT)/floor.elf

# --- the pc platform -------------------------------------------------------

$(MODS)/Heap.o: $(Heap_SRC)
	@mkdir -p $(@D)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Heap -emit-module -emit-module-path $(MODS)/Heap.swiftmodule -c $^ -o $@

$(MODS)/Swiftlet.o: $(Swiftlet_SRC) $(MODS)/Heap.o
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name Swiftlet -emit-module -emit-module-path $(MODS)/Swiftlet.swiftmodule -c $(Swiftlet_SRC) -o $@

$(MODS)/PlatformPC.o: $(PlatformPC_SRC) $(MODS)/Swiftlet.o $(CPU_HEADERS)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name PlatformPC -c $(PlatformPC_SRC) -o $@

$(MODS)/app-%.o: $(MODS)/Swiftlet.o $$(wildcard Sources/Apps/$$(APPDIR_$$*)/*.swift)
	$(SWIFTC) $(SWIFT_EMBEDDED) -module-name $(APPDIR_$*) -c $(wildcard Sources/Apps/$(APPDIR_$*)/*.swift) -o $@

APPDIR_hello := Hello
APPDIR_fault := Fault
APPDIR_boottime := BootTime
APPDIR_swiftcheck := SwiftCheck

$(OUT)/boot/%.o: boot/pc/%.S
	@mkdir -p $(@D)
	$(CLANG) --target=x86_64-unknown-none-elf -g -c $< -o $@

$(OUT)/runtime/%.o: Sources/Runtime/%.c
	@mkdir -p $(@D)
	$(CLANG) $(CFLAGS_FREE) -c $< -o $@

$(OUT)/%.dbg.elf: $(MODS)/app-%.o $(pc_KERNEL_OBJS) $(pc_BOOT_OBJS) linker/pc.ld
	$(LD) $(LDFLAGS_PC) -o $@ $(pc_BOOT_OBJS) $(pc_KERNEL_OBJS) $< $(EMBEDDED_LIB)/libswiftUnicodeDataTables.a

$(OUT)/floor.dbg.elf: $(OUT)/boot/floor.o linker/pc.ld
	$(LD) $(LDFLAGS_PC) -o $@ $<

$(OUT)/%.elf: $(OUT)/%.dbg.elf
	$(OBJCOPY) --strip-all $< $@

# --- hosted programs and tests ---------------------------------------------

hosted:
	swift build -c release --product swiftlet
	swift build -c release --product hello
	swift build -c release --product fault
	swift build -c release --product swiftcheck

# --- running ----------------------------------------------------------------

RUNNER := .build/release/swiftlet

$(RUNNER): $(shell find Sources/Tools -name '*.swift' 2>/dev/null) Package.swift
	swift build -c release --product swiftlet

run: check-tools $(OUT)/$(APP).elf $(RUNNER)
	@tools/check-tools qemu
	$(RUNNER) run --machine $(MACHINE) --boot $(BOOT) --mem $(MEM) $(OUT)/$(APP).elf -- $(ARGS)

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

size: images
	@for f in $(OUT)/*.elf; do case $$f in *.dbg.elf) ;; *) printf '%-28s %8d bytes\n' $$f $$(stat -c %s $$f);; esac; done

clean:
	rm -rf $(BUILD) .build
