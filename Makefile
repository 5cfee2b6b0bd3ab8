# SPDX-License-Identifier: BSD-3-Clause
# Wave-VM build. Plain make: outputs under build/, binaries in build/bin/.
#   make            build everything        make check   run all tests
#   make deps       install Debian packages  make demo    the main job
#   make SAN=1      ASan+UBSan build         make V=1     show commands
# See 'make help'.

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:
.DEFAULT_GOAL := all

BUILD   ?= build
BIN     := $(BUILD)/bin
OBJ     := $(BUILD)/obj
CC      ?= cc
CLANG   ?= clang
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 10

V ?= 0
ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wvla -Wno-unused-parameter
OPT ?= -O2 -g
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -I. -I$(BUILD) -MMD -MP -pthread $(WARN) $(OPT)
ifeq ($(SAN),1)
BASE_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
endif
ALL_CFLAGS := $(BASE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := -pthread $(LDSAN) $(LDFLAGS)

# Packages: checked here, installed by 'make deps' (scripts/deps.sh).
have = $(shell $(PKG_CONFIG) --exists $(1) 2>/dev/null && echo yes)
need_pkg = $(if $(call have,$(1)),,$(error $(1) development files are missing: run 'make deps' (as root) first))
CMOCKA_CFLAGS = $(shell $(PKG_CONFIG) --cflags cmocka)
CMOCKA_LIBS   = $(shell $(PKG_CONFIG) --libs cmocka)
DPDK_CFLAGS   = $(shell $(PKG_CONFIG) --cflags libdpdk)
DPDK_LIBS     = $(shell $(PKG_CONFIG) --libs libdpdk)
# The channel's TLS (tcp://): every binary that links libwave.
SSL_LIBS      = $(shell $(PKG_CONFIG) --libs libssl libcrypto)
VIRT_PKGS     := libvirt libvirt-qemu libxml-2.0 json-c libbpf
VIRT_CFLAGS   = $(shell $(PKG_CONFIG) --cflags $(VIRT_PKGS))
VIRT_LIBS     = $(shell $(PKG_CONFIG) --libs $(VIRT_PKGS))

# The build flags are part of every object's inputs: SAN=1 and back rebuilds.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW := $(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)
$(shell mkdir -p $(BUILD); [ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = "$(FLAGS_NOW)" ] || echo "$(FLAGS_NOW)" > $(FLAGS_STAMP))

# ---- sources ---------------------------------------------------------------
LIB_SRCS := $(wildcard common/*.c) $(wildcard channel/*.c) netctl/mac-table.c netctl/switch-client.c
# Policies and the model: pure C, shared by wave-agent and waved.
SCHED_SRCS := $(filter-out %-main.c,$(wildcard ipu-sched/*.c)) $(wildcard mm/policy-*.c) $(wildcard netctl/policy-*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o) $(SCHED_SRCS:%.c=$(OBJ)/%.o)
LIBWAVE  := $(BUILD)/libwave.a

# kvm-hooks: BPF programs (clang -target bpf, CO-RE against this kernel's
# BTF), skeletons generated into build/ (never committed), libbpf loader.
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_SRCS  := $(wildcard kvm-hooks/*.bpf.c)
BPF_SKELS := $(BPF_SRCS:%.bpf.c=$(BUILD)/%.skel.h)
HOOKS_SRCS := $(filter-out %.bpf.c,$(wildcard kvm-hooks/*.c))

# vmm: libvirt, QEMU (QMP), libxml2, json-c; kvm-hooks: observation, mechanisms.
# mm/: the mechanism half (libvirt's balloon, PSI) is host code like vmm's.
VMM_SRCS := $(wildcard vmm/*.c) $(HOOKS_SRCS) $(wildcard mm/mechanism*.c)
VMM_OBJS := $(VMM_SRCS:%.c=$(OBJ)/%.o)
LIBVMM   := $(BUILD)/libwavevmm.a

# waved, the host daemon: everything but main() in a library the unit tests link.
WAVED_SRCS := $(filter-out waved/main.c,$(wildcard waved/*.c))
WAVED_OBJS := $(WAVED_SRCS:%.c=$(OBJ)/%.o)
LIBWAVED   := $(BUILD)/libwaved.a

# The guest side: a static binary for the initramfs (images/).
GUEST_SRCS := $(wildcard images/guest/*.c)
GUEST_BIN  := $(BUILD)/images/wave-guest
IMAGES     := $(BUILD)/images/vmlinuz $(BUILD)/images/initramfs.img
# The redis guest image, where redis-tools is installed (make deps): built
# with the others, and again once redis-tools comes.
IMAGES     += $(if $(wildcard /usr/bin/redis-check-rdb),$(BUILD)/images/initramfs-redis.img)

WAVECTL_SRCS := $(wildcard tools/*.c) $(filter-out bench/dpdk-%.c %.bpf.c,$(wildcard bench/*.c))
WAVECTL_OBJS := $(WAVECTL_SRCS:%.c=$(OBJ)/%.o)
DPDK_SRCS    := $(wildcard bench/dpdk-*.c)
DPDK_OBJS    := $(DPDK_SRCS:%.c=$(OBJ)/%.o)
# wave-switch, the network data plane (DPDK): stands for the IPU's cores.
SWITCH_SRCS  := $(filter-out netctl/switch-client.c,$(wildcard netctl/switch-*.c))
SWITCH_OBJS  := $(SWITCH_SRCS:%.c=$(OBJ)/%.o)

TEST_SRCS := $(wildcard tests/test-*.c)
TEST_UTIL_OBJS := $(OBJ)/tests/util.o $(OBJ)/tests/mech-fake.o $(OBJ)/tests/tap.o
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard fuzz/fuzz-*.c)
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(BUILD)/fuzz/%)

PROGS := $(BIN)/wavectl $(BIN)/waved $(BIN)/wave-agent $(BIN)/wave-switch

# ---- rules -----------------------------------------------------------------
.PHONY: all lib tests fuzz-build check check-unit check-fuzz fuzz demo bench deps clean help \
	images images-lean guest install uninstall

all: $(PROGS) tests guest

lib: $(LIBWAVE)

$(OBJ)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(DPDK_OBJS): $(OBJ)/%.o: %.c $(FLAGS_STAMP)
	$(call need_pkg,libdpdk)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(DPDK_CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(SWITCH_OBJS): $(OBJ)/%.o: %.c $(FLAGS_STAMP)
	$(call need_pkg,libdpdk)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(DPDK_CFLAGS) -c $< -o $@

$(VMM_OBJS) $(WAVED_OBJS) $(OBJ)/waved/main.o $(WAVECTL_OBJS): $(OBJ)/%.o: %.c $(FLAGS_STAMP)
	$(foreach p,$(VIRT_PKGS),$(call need_pkg,$(p)))
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(VIRT_CFLAGS) -c $< -o $@

$(LIBWAVE): $(LIB_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(call say,BTF,$@)
	$(Q)test -r $(VMLINUX_BTF) || { echo "$(VMLINUX_BTF) missing: the kernel has no BTF" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(BUILD)/%.bpf.o: %.bpf.c $(BUILD)/vmlinux.h $(wildcard kvm-hooks/*.h)
	@mkdir -p $(@D)
	$(call say,BPF,$<)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -I. -I$(BUILD) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call say,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(notdir $*)_bpf > $@

$(OBJ)/kvm-hooks/observe-bpf.o: $(BUILD)/kvm-hooks/hooks.skel.h
$(OBJ)/kvm-hooks/netobs-bpf.o: $(BUILD)/kvm-hooks/nettap.skel.h
$(OBJ)/kvm-hooks/kbeat.o: $(BUILD)/kvm-hooks/kbeat.skel.h
$(OBJ)/bench/bench-wakeup.o: $(BUILD)/bench/waketimer.skel.h

$(LIBVMM): $(VMM_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBWAVED): $(WAVED_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BIN)/wavectl: $(WAVECTL_OBJS) $(DPDK_OBJS) $(LIBWAVED) $(LIBVMM) $(LIBWAVE)
	$(call need_pkg,libdpdk)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(WAVECTL_OBJS) $(DPDK_OBJS) $(LIBWAVED) $(LIBVMM) \
		$(LIBWAVE) $(DPDK_LIBS) $(VIRT_LIBS) $(SSL_LIBS) -lm

$(BIN)/waved: $(OBJ)/waved/main.o $(LIBWAVED) $(LIBVMM) $(LIBWAVE)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBWAVED) $(LIBVMM) $(LIBWAVE) $(VIRT_LIBS) $(SSL_LIBS) -lm

$(BIN)/wave-switch: $(SWITCH_OBJS) $(LIBWAVE)
	$(call need_pkg,libdpdk)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(SWITCH_OBJS) $(LIBWAVE) $(DPDK_LIBS) -lrte_net_vhost $(SSL_LIBS) -lm

# The agent needs nothing but the channel and the policies: it runs on an IPU.
$(BIN)/wave-agent: $(OBJ)/ipu-sched/agent-main.o $(LIBWAVE)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBWAVE) $(SSL_LIBS) -lm

# Guest binary: static, no sanitizers (the initramfs has no loader or runtime).
guest: $(GUEST_BIN)
$(GUEST_BIN): $(GUEST_SRCS) $(wildcard images/guest/*.h)
	@mkdir -p $(@D)
	$(call say,CCGUEST,$@)
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -I. $(WARN) -O2 -static -pthread -o $@ $(GUEST_SRCS)

# Guest kernel and initramfs from Debian packages (images/mkimages.sh).
images: $(IMAGES)
$(IMAGES) &: $(GUEST_BIN) images/init images/mkimages.sh
	$(call say,IMAGES,$(BUILD)/images)
	$(Q)./images/mkimages.sh $(BUILD)/images $(GUEST_BIN)

# The lean guest kernel (optional; images/mklean.sh): build/images-lean,
# for WAVE_IMAGES=build/images-lean.
images-lean: $(IMAGES)
	$(call say,IMAGES,$(BUILD)/images-lean)
	$(Q)./images/mklean.sh $(BUILD)/images-lean $(BUILD)/images

TEST_SCRIPTS := $(patsubst tests/%.sh,$(BUILD)/tests/%,$(wildcard tests/test-*.sh))

tests: $(TEST_BINS) $(TEST_SCRIPTS)

# A test written in sh sits next to the binaries, where tests/run.sh finds it.
$(BUILD)/tests/%: tests/%.sh
	@mkdir -p $(@D)
	$(Q)install -m 0755 $< $@

$(OBJ)/tests/%.o: tests/%.c $(FLAGS_STAMP)
	$(call need_pkg,cmocka)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(VIRT_CFLAGS) -c $< -o $@

# A test may wrap library calls: tests/NAME.wrap lists the symbols (-Wl,--wrap=SYM).
test_wraps = $(addprefix -Wl$(comma)--wrap=,$(shell cat tests/$(1).wrap 2>/dev/null))
comma := ,

# Policy tests share the synthetic-trace helpers (tests/policy-trace.c).
test_extra = $(if $(filter test-policy%,$(1)),$(OBJ)/tests/policy-trace.o)
$(BUILD)/tests/test-policy $(BUILD)/tests/test-policy-net $(BUILD)/tests/test-policy-mem $(BUILD)/tests/test-policy-share: $(OBJ)/tests/policy-trace.o
# waved's decision-path tests share waved in memory (tests/waved-fixture.c).
test_extra += $(if $(filter test-waved-apply test-waved-vmops,$(1)),$(OBJ)/tests/waved-fixture.o)
$(BUILD)/tests/test-waved-apply $(BUILD)/tests/test-waved-vmops: $(OBJ)/tests/waved-fixture.o
# The process-level waved tests share their harness (tests/waved-run.c).
test_extra += $(if $(filter test-waved test-kwatch,$(1)),$(OBJ)/tests/waved-run.o)
$(BUILD)/tests/test-waved $(BUILD)/tests/test-kwatch: $(OBJ)/tests/waved-run.o
# test-vms plays the agent for memory (tests/mem-agent.c); its operators'
# tools case is a file of its own (tests/vms-operators.c).
test_extra += $(if $(filter test-vms,$(1)),$(OBJ)/tests/mem-agent.o $(OBJ)/tests/vms-operators.o)
$(BUILD)/tests/test-vms: $(OBJ)/tests/mem-agent.o $(OBJ)/tests/vms-operators.o

$(BUILD)/tests/%: $(OBJ)/tests/%.o $(TEST_UTIL_OBJS) $(LIBWAVED) $(LIBVMM) $(LIBWAVE)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) $(call test_wraps,$*) -o $@ $< $(call test_extra,$*) \
		$(TEST_UTIL_OBJS) $(LIBWAVED) \
		$(LIBVMM) $(LIBWAVE) $(CMOCKA_LIBS) $(VIRT_LIBS) $(SSL_LIBS) -lm

# Fuzzers: clang + libFuzzer + ASan/UBSan, built from the library sources.
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined
fuzz-build: $(FUZZ_BINS)
$(BUILD)/fuzz/%: fuzz/%.c $(LIB_SRCS) $(SCHED_SRCS) $(wildcard channel/*.h common/*.h ipu-sched/*.h)
	@mkdir -p $(@D)
	$(call say,FUZZCC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(SCHED_SRCS) $(SSL_LIBS) -lm

# ---- installing ------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=] [UNITDIR=]: the three
# binaries, the guest images and domain templates, the systemd units (waved
# on the host, wave-agent on the DPU) and their configuration files. A
# configuration file that exists is never overwritten. Builds nothing as root
# that 'make' did not build: run 'make all images' first.
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DATADIR    := $(PREFIX)/share/wave-vm
DOCDIR     := $(PREFIX)/share/doc/wave-vm
INSTALL    ?= install
UNITS      := waved.service wave-agent.service
CONFS      := waved.conf wave-agent.conf
subst_dirs = sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		 -e 's|@DOCDIR@|$(DOCDIR)|g'

install: $(PROGS) $(IMAGES)
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DATADIR)/images $(DESTDIR)$(DATADIR)/xml \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/wave-vm
	$(INSTALL) -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	$(INSTALL) -m 0644 $(IMAGES) $(DESTDIR)$(DATADIR)/images/
	$(INSTALL) -m 0644 images/xml/*.xml $(DESTDIR)$(DATADIR)/xml/
	$(INSTALL) -m 0644 README.md LICENSE $(DESTDIR)$(DOCDIR)/
	@for u in $(UNITS); do \
		$(subst_dirs) dist/systemd/$$u.in > $(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	@for c in $(CONFS); do \
		if [ -e $(DESTDIR)$(SYSCONFDIR)/wave-vm/$$c ]; then \
			echo "install: $(DESTDIR)$(SYSCONFDIR)/wave-vm/$$c exists: kept"; \
		else \
			$(subst_dirs) dist/etc/$$c.in > $(DESTDIR)$(SYSCONFDIR)/wave-vm/$$c && \
			chmod 0644 $(DESTDIR)$(SYSCONFDIR)/wave-vm/$$c || exit 1; \
		fi; \
	done
	chmod 0700 $(DESTDIR)$(SYSCONFDIR)/wave-vm
	@echo "installed under $(DESTDIR)$(PREFIX); configuration in $(DESTDIR)$(SYSCONFDIR)/wave-vm"

# Removes what install put there, except the configuration and key material.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(PROGS)))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)

# ---- running ---------------------------------------------------------------
deps:
	@./scripts/deps.sh

check: deps
	@$(MAKE) --no-print-directory all fuzz-build images
	@./tests/run.sh $(BUILD) $(FUZZ_SECONDS)

check-unit: all images
	@./tests/run.sh $(BUILD) 0

# Fuzz for longer: make fuzz FUZZ_SECONDS=600
fuzz: fuzz-build
	@for f in $(FUZZ_BINS); do \
		mkdir -p $(BUILD)/corpus/$$(basename $$f); \
		echo "== $$f for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(BUILD)/corpus/$$(basename $$f) fuzz/corpus/$$(basename $$f) || exit 1; \
	done

demo: deps
	@$(MAKE) --no-print-directory all images
	@./scripts/demo.sh $(BUILD)

bench: all images
	$(BIN)/wavectl bench channel
	$(BIN)/wavectl bench loop
	$(BIN)/wavectl bench sched --report $(BUILD)/report

clean:
	rm -rf $(BUILD)

help:
	@echo "Targets:"
	@echo "  all         build wavectl, the libraries, the guest binary and the tests (default)"
	@echo "  images      guest kernel and initramfs into $(BUILD)/images (Debian packages)"
	@echo "  images-lean the lean guest kernel (tinyconfig + images/lean-kernel.config) into $(BUILD)/images-lean"
	@echo "  deps        install the Debian packages the project needs (root)"
	@echo "  check       build everything and run every test, fuzzers $(FUZZ_SECONDS)s each"
	@echo "  check-unit  run the tests without fuzzing"
	@echo "  fuzz        run the fuzzers for FUZZ_SECONDS each (default $(FUZZ_SECONDS))"
	@echo "  demo        the main job: VMs under offloaded scheduling, then the comparison"
	@echo "              against CFS (wavectl bench sched --quick, report in build/report)"
	@echo "  bench       the full benchmarks: channel, loop, sched"
	@echo "  install     binaries, images, systemd units and configuration (PREFIX, DESTDIR)"
	@echo "  uninstall   remove them again (configuration and keys stay)"
	@echo "  clean       remove build/"
	@echo "Variables: SAN=1 (ASan+UBSan), V=1 (verbose), CC, CLANG, OPT, FUZZ_SECONDS"

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
