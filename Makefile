# amphi: `make` builds, `make check` tests everything, `make run` boots the
# default recipe. Every target installs what it needs first (make deps).

BUILD    := build
RECIPE   ?= recipes/minimal.conf
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation
COMMON   := -std=c11 -D_GNU_SOURCE $(WARN) -Ilib -DAMPHI_VERSION='"$(VERSION)"'

# The init: static musl, Linux UAPI headers and jsmn's through $(BUILD)/uapi
# (musl-gcc does not see /usr/include, and glibc's headers must not leak in).
# stringop-strategy=loop: at -Os (and -Oz) gcc inlines memcpy as rep movsb, which
# QEMU's TCG runs one byte per iteration (every log record was copied so,
# twice); calling musl's memcpy instead costs a native PID 1 twice the CPU
# per log MB (its rep movsq start-up, paid by every short copy of a header
# field). An inline loop of words is fast in both (1.5 KiB of code).
INIT_CC      := musl-gcc
# -Oz -flto -flto-partition=one: the whole init optimized as one, for size
# (-Oz is gcc 12's; 1.5 KiB less than -Os, LTO 4.5 KiB less than none).
# PID 1's CPU for 150 MB of service output in LXC was the same with -Os
# and -Oz (9 to 10 ticks, three runs each): the hot copies are the word
# loops of stringop-strategy either way.
INIT_CFLAGS  := $(COMMON) -Oz -flto -flto-partition=one -mstringop-strategy=loop -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
                -isystem $(BUILD)/uapi -Iinit
# noseparate-code: no page of padding around the text (8 KiB of nothing).
# norelro: in a static binary nothing ever applies PT_GNU_RELRO (musl only
# mprotects it in its dynamic linker, the kernel never; strace shows no
# mprotect at start), and its page alignment made the file grow in 4 KiB
# steps (1.2 KiB of code to spare became 3.2).
# common-page-size=64: the writable segment starts where the code ends in
# the file (at the same offset in its page), not at the next 4 KiB (up to
# 4 KiB of padding; the kernel maps that one page twice).
INIT_LDFLAGS := -static -s -flto -flto-partition=one -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,-z,common-page-size=64
# The init's size limit in bytes (144 KiB; tests/e2e/test_build.py reads it).
INIT_MAX     := 147456
# The log record and its formats, each part with what it calls.
LOGREC_SRC   := lib/logrec.c lib/wbuf.c
LOGFRAME_SRC := lib/logframe.c $(LOGREC_SRC)
ANACONDA_SRC := lib/anaconda.c $(LOGREC_SRC)
LOGREAD_SRC  := lib/logread.c lib/rfc5424.c $(LOGREC_SRC)
LOGINPUT_SRC := lib/loginput.c lib/rfc5424.c $(LOGREC_SRC)
SHARED_SRC   := lib/conf.c lib/recipe.c lib/recipe_keys.c lib/argv.c lib/netaddr.c lib/jsontok.c \
                $(sort $(LOGFRAME_SRC) $(ANACONDA_SRC) $(LOGREAD_SRC) $(LOGINPUT_SRC))
# The builder's [image] keys (packages, files, setup): checked by the host
# tool; the init takes them as read (init/image_keys.c).
INIT_SRC     := $(wildcard init/*.c) $(SHARED_SRC)

# The host tool: glibc, libarchive.
HOST_CC      ?= gcc
# Debian's python3 (where python3-pytest lives), not a pyenv shim.
PYTHON       ?= /usr/bin/python3
HOST_CFLAGS  := $(COMMON) -O2 -g -Iimage-builder
HOST_LIBS    := -larchive -pthread
HOST_SRC     := $(wildcard image-builder/*.c) $(SHARED_SRC) lib/recipe_image.c

# Unit tests: cmocka, each built plain and with ASan + UBSan.
SAN          := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
UNIT_CFLAGS  := $(COMMON) -O1 -g -Iinit -Iimage-builder -Itests/unit
UNIT_TESTS   := agent agentcmd log detect recipe manifest moddep power tty netlink users kernel_ip logring logflow linesplit child loop svc logrec root rootimage logsink storefile logstore logescape textline rfc5424 wbuf recipe_keys logconn netrule
# The init's log.c puts every line into the ring.
LOG_SRC      := init/log.c init/logconsole.c init/logring.c $(LOGREC_SRC)
unit_src_agent := init/agentframe.c init/agentreq.c init/jsonw.c lib/jsontok.c
unit_src_agentcmd := init/agentcmd.c init/agentsys.c init/agentfs.c init/agentreq.c init/jsonw.c lib/jsontok.c lib/netaddr.c init/netlink.c $(LOG_SRC)
unit_src_log := $(LOG_SRC)
unit_src_detect := init/detect.c $(LOG_SRC)
unit_src_recipe := $(SHARED_SRC) lib/recipe_image.c
unit_src_recipe_keys := lib/recipe_keys.c lib/conf.c lib/netaddr.c
unit_src_moddep := image-builder/moddep.c
unit_src_manifest := image-builder/manifest.c image-builder/manifest_load.c image-builder/manifest_archive.c image-builder/manifest_fresh.c image-builder/accounts.c image-builder/util.c
unit_src_netrule := image-builder/netrule.c image-builder/nextsteps.c image-builder/util.c $(SHARED_SRC) lib/recipe_image.c
unit_ld_manifest := -larchive
unit_src_power := init/power.c $(LOG_SRC)
unit_src_tty := init/tty.c init/child.c init/cmdline.c init/log.c init/logconsole.c init/logring.c init/image_keys.c $(SHARED_SRC)
unit_src_users := init/users.c
unit_src_root := init/root.c init/cmdline.c $(LOG_SRC)
unit_src_rootimage := init/rootimage.c init/root.c init/cmdline.c init/spawn.c init/console.c lib/conf.c $(LOG_SRC)
unit_src_logring := init/logring.c $(LOGREC_SRC)
unit_src_logflow := init/logflow.c init/logring.c tests/unit/fakeloop.c $(LOGREC_SRC)
unit_src_linesplit := init/linesplit.c $(LOGREC_SRC)
unit_src_child := init/child.c tests/unit/fakeloop.c
unit_src_loop := init/loop.c
unit_src_svc := init/svc.c init/child.c init/logpipe.c init/linesplit.c init/logflow.c init/spawn.c init/console.c init/users.c init/jsonw.c init/image_keys.c tests/unit/fakeloop.c $(LOG_SRC) lib/argv.c lib/conf.c lib/recipe.c lib/recipe_keys.c lib/netaddr.c
unit_src_kernel_ip := init/kernel_ip.c init/cmdline.c lib/netaddr.c
unit_src_netlink := init/netlink.c lib/netaddr.c $(LOG_SRC)
unit_src_logrec := lib/logframe.c lib/anaconda.c lib/logread.c lib/loginput.c lib/rfc5424.c $(LOGREC_SRC)
unit_src_rfc5424 := lib/rfc5424.c $(LOGREC_SRC)
unit_src_wbuf := lib/wbuf.c
unit_src_logsink := init/logsink.c init/logflow.c init/logring.c tests/unit/fakeloop.c init/vport.c init/unixsock.c init/jsonw.c $(LOGFRAME_SRC) lib/anaconda.c lib/logread.c lib/rfc5424.c
# The test sees the size of each write the sinks make.
unit_ld_logsink := -Wl,--wrap=write
unit_src_storefile := image-builder/storefile.c
unit_ld_storefile := -Wl,--wrap=write
unit_src_logstore := image-builder/logstore.c image-builder/storefile.c image-builder/logescape.c image-builder/logvacuum.c $(LOGREC_SRC)
# The test makes the disk full.
unit_ld_logstore := -Wl,--wrap=write
unit_src_logescape := image-builder/logescape.c $(LOGREC_SRC)
unit_src_textline := image-builder/textline.c image-builder/logescape.c $(LOGREC_SRC)
unit_src_logconn := image-builder/logconn.c image-builder/guestpath.c

.PHONY: all deps check unit fuzz e2e run run-lxc bench install clean
all: $(BUILD)/amphi-init $(BUILD)/amphi $(BUILD)/lxc-amphi

# Stamp made by deps.sh; `make deps` always re-checks.
$(BUILD)/.deps: image-builder/deps.sh
	@mkdir -p $(BUILD)
	sh image-builder/deps.sh $(BUILD)
deps:
	@mkdir -p $(BUILD)
	sh image-builder/deps.sh $(BUILD)

$(BUILD)/uapi/.stamp: Makefile | $(BUILD)/.deps
	@mkdir -p $(BUILD)/uapi
	ln -sfn /usr/include/linux $(BUILD)/uapi/linux
	ln -sfn /usr/include/asm-generic $(BUILD)/uapi/asm-generic
	ln -sfn /usr/include/$(shell gcc -dumpmachine)/asm $(BUILD)/uapi/asm
	ln -sfn /usr/include/jsmn.h $(BUILD)/uapi/jsmn.h
	touch $@

$(BUILD)/amphi-init: $(INIT_SRC) $(wildcard init/*.h lib/*.h) $(BUILD)/uapi/.stamp | $(BUILD)/.deps
	$(INIT_CC) $(INIT_CFLAGS) $(INIT_SRC) $(INIT_LDFLAGS) -o $@.tmp
	@size=$$(stat -c %s $@.tmp); echo "amphi-init: $$size bytes"; \
	  [ $$size -le $(INIT_MAX) ] || { echo "error: $@ is $$size bytes, over the $(INIT_MAX)-byte limit" >&2; rm -f $@.tmp; exit 1; }
	@# Renamed into place: a build running meanwhile never copies half a binary.
	@mv $@.tmp $@

$(BUILD)/amphi: $(HOST_SRC) $(wildcard image-builder/*.h lib/*.h) | $(BUILD)/.deps
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SRC) $(HOST_LIBS) -o $@

# The LXC template: usable in place by its absolute path, or installed.
$(BUILD)/lxc-amphi: image-builder/lxc-amphi.in | $(BUILD)/.deps
	sed -e 's|@AMPHI@|$(abspath $(BUILD)/amphi)|' -e 's|@TEMPLATE@|$(abspath $@)|' $< > $@
	chmod 755 $@

# make install: the template where lxc-create -t amphi finds it.
LXC_TEMPLATE_DIR ?= /usr/share/lxc/templates
install: all
	install -d $(DESTDIR)$(LXC_TEMPLATE_DIR)
	sed -e 's|@AMPHI@|$(abspath $(BUILD)/amphi)|' -e 's|@TEMPLATE@|amphi|' image-builder/lxc-amphi.in \
	  > $(DESTDIR)$(LXC_TEMPLATE_DIR)/lxc-amphi
	chmod 755 $(DESTDIR)$(LXC_TEMPLATE_DIR)/lxc-amphi

# --- tests ---
define unit_rule
$(BUILD)/test/test_$(1): tests/unit/test_$(1).c tests/unit/testutil.c $$(unit_src_$(1)) $$(wildcard init/*.h lib/*.h image-builder/*.h) | $(BUILD)/.deps
	@mkdir -p $(BUILD)/test
	$(HOST_CC) $(UNIT_CFLAGS) $$< tests/unit/testutil.c $$(unit_src_$(1)) $$(unit_ld_$(1)) -lcmocka -o $$@
$(BUILD)/test/test_$(1).san: tests/unit/test_$(1).c tests/unit/testutil.c $$(unit_src_$(1)) $$(wildcard init/*.h lib/*.h image-builder/*.h) | $(BUILD)/.deps
	@mkdir -p $(BUILD)/test
	$(HOST_CC) $(UNIT_CFLAGS) $(SAN) $$< tests/unit/testutil.c $$(unit_src_$(1)) $$(unit_ld_$(1)) -lcmocka -o $$@
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

UNIT_BINS := $(foreach t,$(UNIT_TESTS),$(BUILD)/test/test_$(t) $(BUILD)/test/test_$(t).san)

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do echo "== $$t"; \
	  AMPHI_FIXTURES=tests/fixtures AMPHI_KERNEL_MODULES_DEP=$$(echo $(BUILD)/kernel/current/root/lib/modules/*/modules.dep) \
	  $$t || exit 1; done

# libFuzzer on every parser of untrusted input: a bounded run of each from
# its committed corpus (tests/fuzz/corpus/NAME), new finds kept in build/.
# FUZZ_SECONDS per target; FUZZ_TARGETS=NAME runs one.
FUZZ_SECONDS ?= 10
FUZZ_ALL     := logrec_reader syslog kmsg logtext recipe kernel_ip control agent
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -Ilib -Iinit -Iimage-builder \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz_src_logrec_reader := $(LOGREAD_SRC)
fuzz_src_syslog := $(LOGINPUT_SRC)
fuzz_src_kmsg := $(LOGINPUT_SRC)
fuzz_src_logtext := image-builder/textline.c image-builder/logescape.c $(LOGREC_SRC)
fuzz_src_recipe := lib/recipe.c lib/recipe_keys.c lib/recipe_image.c lib/conf.c lib/argv.c lib/netaddr.c $(LOGREC_SRC)
fuzz_src_kernel_ip := init/kernel_ip.c init/cmdline.c lib/netaddr.c
fuzz_src_control := init/ctlmsg.c
fuzz_src_agent := init/agentframe.c init/agentreq.c init/jsonw.c lib/jsontok.c
# The grammar's words: the fuzzer gets past the section and key checks.
fuzz_args_recipe := -dict=tests/fuzz/recipe.dict

define fuzz_rule
$(BUILD)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $$(fuzz_src_$(1)) $$(wildcard init/*.h lib/*.h image-builder/*.h) | $(BUILD)/.deps
	@mkdir -p $(BUILD)/fuzz
	clang $(FUZZ_CFLAGS) $$< $$(fuzz_src_$(1)) -o $$@
.PHONY: fuzz-$(1)
fuzz-$(1): $(BUILD)/fuzz/fuzz_$(1)
	@mkdir -p $(BUILD)/fuzz/corpus_$(1)
	@echo "== fuzz $(1) for $(FUZZ_SECONDS) s"
	@$$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 -artifact_prefix=$(BUILD)/fuzz/$(1)- $$(fuzz_args_$(1)) \
	  $(BUILD)/fuzz/corpus_$(1) tests/fuzz/corpus/$(1) > $(BUILD)/fuzz/$(1).log 2>&1 \
	  || { tail -n 40 $(BUILD)/fuzz/$(1).log; \
	       echo "fuzz $(1): failed; the input is $(BUILD)/fuzz/$(1)-crash-* (or -leak-, -timeout-); replay: $$< FILE"; exit 1; }
	@tail -n 1 $(BUILD)/fuzz/$(1).log
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call fuzz_rule,$(t))))

fuzz: $(foreach t,$(FUZZ_TARGETS),fuzz-$(t))

e2e: all
	$(PYTHON) -m pytest -q tests/e2e

check: unit fuzz e2e

run: all
	$(BUILD)/amphi build $(RECIPE) -o $(BUILD)/out/default
	$(BUILD)/amphi run $(BUILD)/out/default

run-lxc: all
	$(BUILD)/amphi build $(RECIPE) -o $(BUILD)/out/default
	$(BUILD)/amphi run --lxc $(BUILD)/out/default

# Not part of check: numbers, not pass/fail. QUICK=1 for a short run.
bench: all
	$(PYTHON) bench/run.py

clean:
	rm -rf $(BUILD)/amphi-init $(BUILD)/amphi $(BUILD)/lxc-amphi $(BUILD)/test $(BUILD)/out $(BUILD)/uapi $(BUILD)/fuzz
