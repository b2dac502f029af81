# vsn build. `make` builds everything (BPF objects, skeletons, the library,
# the tools, the tests, the sanitizer build); `make test` installs missing
# Debian packages first and runs every test tier. See README.md.

B        ?= build
ARCH     := $(shell uname -m)
BPF_ARCH := $(subst x86_64,x86,$(subst aarch64,arm64,$(ARCH)))
CC       := clang
BPFTOOL  ?= bpftool

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS := -Iinclude -Ilib/dp -Ilib/testenv -Ilib/cli -Ilib/tls -I$(B)/bpf -D_GNU_SOURCE
# libvsnproto: lib/proto and the C that protoc-c generates from proto/vsn.proto.
CPPFLAGS += -Ilib/proto -I$(B)/proto
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu17 $(WARN) -fno-strict-aliasing
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDLIBS   := -lbpf -lelf -lz -lmnl -lyaml
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Iinclude -Ibpf \
	      -I/usr/include/$(ARCH)-linux-gnu -Wall -Wextra -Werror -Wno-unused-parameter

BPF_PROGS := forwarder decap bench
BPF_OBJS  := $(BPF_PROGS:%=$(B)/bpf/%.bpf.o)
SKELS     := $(BPF_PROGS:%=$(B)/bpf/%.skel.h)

LIB_SRCS  := $(wildcard lib/dp/*.c)
TESTENV_SRCS := $(wildcard lib/testenv/*.c)
CLI_SRCS  := $(wildcard lib/cli/*.c)
DPCTL_SRCS := $(wildcard dpctl/*.c)
SLB_SRCS  := $(wildcard slb/*.c)
TLS_SRCS  := $(wildcard lib/tls/*.c)
VSN_SRCS  := $(wildcard cli/*.c)
PROTO_SRCS := $(wildcard lib/proto/*.c)
PROTO_GEN := $(B)/proto/vsn.pb-c.c $(B)/proto/vsn.pb-c.h
PROTO_LDLIBS := -lprotobuf-c -lcrypto
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
PKT_SRCS  := $(wildcard tests/packet/test_*.c)
PKT_HELPERS := $(filter-out $(PKT_SRCS),$(wildcard tests/packet/*.c))
BENCH_SRCS := $(wildcard bench/*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
NETNS_TOOL_SRCS := $(wildcard tests/netns/tools/*.c)

# Two variants of all user-space code: plain ($(B)) and ASan+UBSan ($(B)/san).
define variant
$(1)/obj/%.o: %.c $(SKELS) $(wildcard include/vsn/*.h lib/dp/*.h lib/testenv/*.h lib/cli/*.h bpf/*.h tests/packet/*.h bench/*.h dpctl/*.h slb/*.h lib/tls/*.h cli/*.h)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $(2) -c $$< -o $$@

$(1)/libvsndp.a: $$(LIB_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/vsn-dpctl: $$(DPCTL_SRCS:%.c=$(1)/obj/%.o) $$(CLI_SRCS:%.c=$(1)/obj/%.o) $(1)/libvsndp.a
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)

$(1)/vsn-slb: $$(SLB_SRCS:%.c=$(1)/obj/%.o) $$(CLI_SRCS:%.c=$(1)/obj/%.o) $(1)/libvsndp.a
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)

$(1)/libvsntls.a: $$(TLS_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/vsn: $$(VSN_SRCS:%.c=$(1)/obj/%.o) $$(CLI_SRCS:%.c=$(1)/obj/%.o) $(1)/libvsnstate.a $(1)/libvsntls.a $(1)/libvsndp.a
	$$(CC) $(2) -o $$@ $$^ -lssl -lcrypto -lcurl -ljansson $$(STATE_LDLIBS)

$(1)/tests/unit/test_tls: $(1)/obj/tests/unit/test_tls.o $(1)/libvsntls.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ -lssl -lcrypto -lcmocka -lpthread

$$(PROTO_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/tests/unit/test_proto.o: $(B)/proto/vsn.pb-c.h $(wildcard lib/proto/*.h)

$(1)/obj/proto/vsn.pb-c.o: $(B)/proto/vsn.pb-c.c $(B)/proto/vsn.pb-c.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $(2) -c $$< -o $$@

$(1)/libvsnproto.a: $$(PROTO_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/proto/vsn.pb-c.o
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/tests/unit/test_proto: $(1)/obj/tests/unit/test_proto.o $(1)/libvsnproto.a $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PROTO_LDLIBS) $$(LDLIBS) -lcmocka

$(1)/tests/unit/%: $(1)/obj/tests/unit/%.o $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS) -lcmocka

$(1)/tests/packet/%: $(1)/obj/tests/packet/%.o $$(PKT_HELPERS:%.c=$(1)/obj/%.o) $$(TESTENV_SRCS:%.c=$(1)/obj/%.o) $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS) -lcmocka -lpthread
endef

$(eval $(call variant,$(B),))
$(eval $(call variant,$(B)/san,$(SANFLAGS)))

UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=%)
PKT_BINS  := $(PKT_SRCS:tests/packet/%.c=%)
TEST_BINS := $(UNIT_BINS:%=$(B)/tests/unit/%) $(PKT_BINS:%=$(B)/tests/packet/%)
SAN_BINS  := $(UNIT_BINS:%=$(B)/san/tests/unit/%) $(PKT_BINS:%=$(B)/san/tests/packet/%)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)
NETNS_TOOLS := $(NETNS_TOOL_SRCS:tests/netns/tools/%.c=$(B)/tests/netns/%)

.DEFAULT_GOAL := all
.PHONY: all test bench demo clean format fuzz deps
.SECONDARY:

all: $(B)/vsn-dpctl $(if $(SLB_SRCS),$(B)/vsn-slb $(B)/san/vsn-slb) $(B)/vsn-bench $(TEST_BINS) $(B)/san/vsn-dpctl $(B)/libvsnproto.a $(B)/san/libvsnproto.a $(B)/vsn $(B)/san/vsn $(SAN_BINS) $(FUZZ_BINS) $(NETNS_TOOLS)

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/vsn/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BPF_CFLAGS) -c $< -o $@

# protoc-c's C for the wire schema: generated at build time, never committed.
$(PROTO_GEN) &: proto/vsn.proto
	@mkdir -p $(B)/proto
	protoc-c --proto_path=proto --c_out=$(B)/proto $<

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

$(B)/vsn-bench: $(BENCH_SRCS:%.c=$(B)/obj/%.o) $(TESTENV_SRCS:%.c=$(B)/obj/%.o) $(B)/libvsndp.a
	$(CC) -o $@ $^ $(LDLIBS)

# Helpers of the netns tests (tests/netns/tools): plain C, no library.
$(B)/tests/netns/%: $(B)/obj/tests/netns/tools/%.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^

# libFuzzer targets: parsers only, built with ASan+UBSan.
PROTO_FUZZ := $(B)/fuzz/fuzz_frame $(B)/fuzz/fuzz_policyset
$(PROTO_FUZZ): $(B)/fuzz/%: tests/fuzz/%.c $(PROTO_SRCS) $(PROTO_GEN) $(wildcard lib/proto/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu17 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(PROTO_SRCS) $(B)/proto/vsn.pb-c.c $(PROTO_LDLIBS)

$(B)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(TESTENV_SRCS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu17 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(LIB_SRCS) $(TESTENV_SRCS) $(LDLIBS)

deps:
	scripts/deps.sh

# make fuzz [FUZZ_SECONDS=N]: every libFuzzer target for N seconds (default 600) each.
FUZZ_SECONDS ?= 600
fuzz: deps
	$(MAKE) -j$$(nproc) all
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests.sh fuzz

test: deps
	$(MAKE) -j$$(nproc) all
	scripts/run-tests.sh

# make bench [BENCH=dataplane]
BENCH ?= all
# Only JSON lines on stdout: the build and make's own echo go elsewhere.
bench:
	@scripts/deps.sh >&2
	@$(MAKE) -j$$(nproc) all >&2
	@scripts/run-bench.sh $(BENCH)

# The README's first command: the whole virtual service network in network namespaces,
# narrated (tests/netns/demo.sh; ARGS=--keep leaves it running).
demo: deps
	$(MAKE) -j$$(nproc) all
	tests/netns/demo.sh $(ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)

# libvsnnode: the agent's library (lib/node), over libvsnproto.
NODE_SRCS := $(wildcard lib/node/*.c)
CPPFLAGS += -Ilib/node
define node_variant
$$(NODE_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/tests/unit/test_store.o $(1)/obj/tests/unit/test_node_config.o: $(B)/proto/vsn.pb-c.h $(wildcard lib/node/*.h lib/proto/*.h)

$(1)/libvsnnode.a: $$(NODE_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/tests/unit/test_store: $(1)/obj/tests/unit/test_store.o $(1)/libvsnnode.a $(1)/libvsnproto.a $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PROTO_LDLIBS) $$(LDLIBS) -lcmocka

# The configuration file (config.c) checks node names with libvsntls.
$(1)/tests/unit/test_node_config: $(1)/obj/tests/unit/test_node_config.o $(1)/libvsnnode.a $(1)/libvsntls.a $(1)/libvsnproto.a $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ -lssl $$(PROTO_LDLIBS) $$(LDLIBS) -lcmocka
endef
$(eval $(call node_variant,$(B),))
$(eval $(call node_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/libvsnnode.a $(B)/san/libvsnnode.a

# The configuration file parser's libFuzzer target (listed in FUZZ_BINS by its source).
$(B)/fuzz/fuzz_node_config: tests/fuzz/fuzz_node_config.c lib/node/config.c $(wildcard lib/node/*.h) $(LIB_SRCS) $(TLS_SRCS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu17 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< lib/node/config.c $(LIB_SRCS) $(TLS_SRCS) $(LDLIBS) -lssl -lcrypto

# libvsntransport: mutual-TLS connections carrying frames (lib/transport), on libevent.
TRANSPORT_SRCS := $(wildcard lib/transport/*.c)
TRANSPORT_LDLIBS := -levent_openssl -levent_core -lssl -lcrypto -lprotobuf-c
CPPFLAGS += -Ilib/transport
define transport_variant
$$(TRANSPORT_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/tests/unit/test_transport.o: $(B)/proto/vsn.pb-c.h $(wildcard lib/transport/*.h lib/proto/*.h)

$(1)/libvsntransport.a: $$(TRANSPORT_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/tests/unit/test_transport: $(1)/obj/tests/unit/test_transport.o $(1)/libvsntransport.a $(1)/libvsnproto.a $(1)/libvsntls.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(TRANSPORT_LDLIBS) -lcmocka
endef
$(eval $(call transport_variant,$(B),))
$(eval $(call transport_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/libvsntransport.a $(B)/san/libvsntransport.a

# libvsnlog: the daemons' structured logs (lib/log).
LOG_SRCS := $(wildcard lib/log/*.c)
CPPFLAGS += -Ilib/log
define log_variant
$(1)/libvsnlog.a: $$(LOG_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(eval $(call log_variant,$(B),))
$(eval $(call log_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/libvsnlog.a $(B)/san/libvsnlog.a

# vsn-node: the network node agent (node/).
AGENT_SRCS := $(wildcard node/*.c)
AGENT_LDLIBS := $(TRANSPORT_LDLIBS) -lcrypto $(LDLIBS)
define agent_variant
$$(AGENT_SRCS:%.c=$(1)/obj/%.o): $(B)/proto/vsn.pb-c.h $(wildcard node/*.h lib/node/*.h lib/proto/*.h lib/transport/*.h lib/log/*.h)

$(1)/vsn-node: $$(AGENT_SRCS:%.c=$(1)/obj/%.o) $(1)/libvsnnode.a $(1)/libvsntransport.a $(1)/libvsnproto.a $(1)/libvsntls.a $(1)/libvsnlog.a $(1)/libvsndp.a
	$$(CC) $(2) -o $$@ $$^ $$(AGENT_LDLIBS)
endef
$(eval $(call agent_variant,$(B),))
$(eval $(call agent_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/vsn-node $(B)/san/vsn-node

# The agent's packet-tier test runs the real vsn-node of its variant.
define agent_test_variant
$(1)/obj/tests/packet/test_agent.o: $(B)/proto/vsn.pb-c.h

$(1)/tests/packet/test_agent: $(1)/obj/tests/packet/test_agent.o $$(TESTENV_SRCS:%.c=$(1)/obj/%.o) $(1)/libvsnnode.a $(1)/libvsntransport.a $(1)/libvsnproto.a $(1)/libvsntls.a $(1)/libvsndp.a | $(1)/vsn-node
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(AGENT_LDLIBS) -lcmocka
endef
$(eval $(call agent_test_variant,$(B),))
$(eval $(call agent_test_variant,$(B)/san,$(SANFLAGS)))

# vsn-bench-agent: the agent's apply time and memory (make bench BENCH=agent).
BENCH_AGENT_SRCS := $(wildcard bench-agent/*.c)
$(BENCH_AGENT_SRCS:%.c=$(B)/obj/%.o): $(B)/proto/vsn.pb-c.h
$(B)/vsn-bench-agent: $(BENCH_AGENT_SRCS:%.c=$(B)/obj/%.o) $(TESTENV_SRCS:%.c=$(B)/obj/%.o) $(B)/libvsntransport.a $(B)/libvsnproto.a $(B)/libvsntls.a $(B)/libvsndp.a | $(B)/vsn-node
	$(CC) -o $@ $^ $(AGENT_LDLIBS)
all: $(B)/vsn-bench-agent

# libvsnctl and vsnd: the controller's side of the protocol (lib/ctl) and the controller (vsnd/).
CTL_SRCS := $(wildcard lib/ctl/*.c)
VSND_SRCS := $(wildcard vsnd/*.c)
CTL_LIBS = libvsnctl.a libvsntransport.a libvsnproto.a libvsntls.a
CPPFLAGS += -Ilib/ctl
define ctl_variant
$$(CTL_SRCS:%.c=$(1)/obj/%.o) $$(VSND_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/tests/unit/test_ctl.o: $(B)/proto/vsn.pb-c.h $(wildcard lib/ctl/*.h vsnd/*.h lib/transport/*.h lib/proto/*.h lib/log/*.h lib/dp/policyfile.h tests/unit/cert_dir.h lib/state/*.h lib/store/*.h lib/api/*.h lib/eval/*.h lib/probe/*.h)

$(1)/libvsnctl.a: $$(CTL_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/vsnd: $$(VSND_SRCS:%.c=$(1)/obj/%.o) $(1)/libvsnapi.a $(1)/libvsnstore.a $(1)/libvsneval.a $(1)/libvsnstate.a $(1)/libvsnprobe.a $$(CTL_LIBS:%=$(1)/%) $(1)/libvsnlog.a $(1)/libvsndp.a
	$$(CC) $(2) -o $$@ $$^ $$(API_LDLIBS) $$(STORE_LDLIBS) $$(TRANSPORT_LDLIBS) $$(LDLIBS) -lm

$(1)/tests/unit/test_ctl: $(1)/obj/tests/unit/test_ctl.o $$(CTL_LIBS:%=$(1)/%) $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(TRANSPORT_LDLIBS) $$(LDLIBS) -lcmocka
endef
$(eval $(call ctl_variant,$(B),))
$(eval $(call ctl_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/libvsnctl.a $(B)/san/libvsnctl.a $(B)/vsnd $(B)/san/vsnd $(B)/tests/unit/test_ctl $(B)/san/tests/unit/test_ctl

# libvsnstore: the controller's store (lib/store) behind a vtable, SQLite its default backend.
# Included as "store/store.h" (lib/node has a store.h of its own), hence -Ilib.
STORE_SRCS := $(wildcard lib/store/*.c)
STORE_LDLIBS := -lsqlite3
CPPFLAGS += -Ilib
define store_variant
$$(STORE_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/tests/unit/test_store_db.o: $(wildcard lib/store/*.h)

$(1)/libvsnstore.a: $$(STORE_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/tests/unit/test_store_db: $(1)/obj/tests/unit/test_store_db.o $(1)/libvsnstore.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(STORE_LDLIBS) -lcmocka
endef
$(eval $(call store_variant,$(B),))
$(eval $(call store_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/libvsnstore.a $(B)/san/libvsnstore.a

# libvsnapi: the controller's REST API server (lib/api): HTTPS and JSON on libevent's evhttp.
# Its unit test runs the server in-process against a libcurl client, the vsn CLI's own (cli/ctl_*.c).
API_SRCS := $(wildcard lib/api/*.c)
API_LDLIBS := -levent_extra -levent_openssl -levent_core -lssl -lcrypto -ljansson
VSN_CTL_OBJS := cli/ctl_http.o cli/ctl_fmt.o
CPPFLAGS += -Ilib/api
define api_variant
$$(API_SRCS:%.c=$(1)/obj/%.o) $$(VSN_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/tests/unit/test_api.o: $(wildcard lib/api/*.h)
$(1)/obj/tests/unit/test_api.o: CPPFLAGS += -Icli

$(1)/libvsnapi.a: $$(API_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/tests/unit/test_api: $(1)/obj/tests/unit/test_api.o $$(VSN_CTL_OBJS:%=$(1)/obj/%) $(1)/libvsnapi.a $(1)/libvsntls.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(API_LDLIBS) -lcurl -lcmocka -lpthread
endef
$(eval $(call api_variant,$(B),))
$(eval $(call api_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/libvsnapi.a $(B)/san/libvsnapi.a

# libvsnstate: the controller's desired-state document (lib/state): parsed, every rule checked,
# conditions parsed. Over libvsndp (yaml_walk, addr, maglev) and libvsntls (node names).
STATE_SRCS := $(wildcard lib/state/*.c)
STATE_LDLIBS := -lyaml -lssl -lcrypto -lm
CPPFLAGS += -Ilib/state
define state_variant
$$(STATE_SRCS:%.c=$(1)/obj/%.o) $$(VSN_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/tests/unit/test_state.o $(1)/obj/tests/unit/test_cond.o: $(wildcard lib/state/*.h)

$(1)/libvsnstate.a: $$(STATE_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/tests/unit/test_state $(1)/tests/unit/test_cond: $(1)/tests/unit/%: $(1)/obj/tests/unit/%.o $(1)/libvsnstate.a $(1)/libvsntls.a $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(STATE_LDLIBS) -lcmocka
endef
$(eval $(call state_variant,$(B),))
$(eval $(call state_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/libvsnstate.a $(B)/san/libvsnstate.a

# The document and condition parsers' libFuzzer target (listed in FUZZ_BINS by its source).
STATE_FUZZ_SRCS := $(filter-out lib/state/compile.c,$(STATE_SRCS)) lib/dp/yaml_walk.c lib/dp/addr.c lib/dp/maglev.c $(TLS_SRCS)
$(B)/fuzz/fuzz_state: tests/fuzz/fuzz_state.c $(STATE_FUZZ_SRCS) $(wildcard lib/state/*.h lib/dp/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu17 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(STATE_FUZZ_SRCS) $(STATE_LDLIBS)

# Compilation of desired state into node sets (lib/state/compile.c) meets the wire format here.
define compile_test_variant
$(1)/obj/tests/unit/test_compile.o: $(B)/proto/vsn.pb-c.h $(wildcard lib/state/*.h lib/proto/*.h)

$(1)/tests/unit/test_compile: $(1)/obj/tests/unit/test_compile.o $(1)/libvsnstate.a $(1)/libvsnproto.a $(1)/libvsntls.a $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PROTO_LDLIBS) -lssl $$(LDLIBS) -lm -lcmocka
endef
$(eval $(call compile_test_variant,$(B),))
$(eval $(call compile_test_variant,$(B)/san,$(SANFLAGS)))

# vsn-bench-controller
# vsn-bench-controller: vsnd's apply of 10,000 services and its push to 100 real agents
# (make bench BENCH=controller; docs/benchmarks.md, "controller").
BENCH_CTL_SRCS := $(wildcard bench-controller/*.c)
$(BENCH_CTL_SRCS:%.c=$(B)/obj/%.o): $(wildcard bench-controller/*.h)
$(B)/vsn-bench-controller: $(BENCH_CTL_SRCS:%.c=$(B)/obj/%.o) $(TESTENV_SRCS:%.c=$(B)/obj/%.o) $(B)/libvsntls.a $(B)/libvsndp.a | $(B)/vsn-node $(B)/vsnd
	$(CC) -o $@ $^ -lcurl -ljansson -lssl -lcrypto $(LDLIBS)
all: $(B)/vsn-bench-controller

# Traffic per service from the nodes' Stats (lib/ctl/traffic.c), a pure part of libvsnctl.
define traffic_test_variant
$(1)/tests/unit/test_traffic: $(1)/obj/tests/unit/test_traffic.o $(1)/libvsnctl.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ -lm -lcmocka
endef
$(eval $(call traffic_test_variant,$(B),))
$(eval $(call traffic_test_variant,$(B)/san,$(SANFLAGS)))

# libvsneval
# libvsneval: the pure half of automatic switching (lib/eval): schedules against a clock in their
# zones (TZif files read once), conditions against signals with three-valued logic and `for`,
# selection with dwell. Over libvsnstate's condition tree (lib/state/cond.h), which its tests parse.
EVAL_SRCS := $(wildcard lib/eval/*.c)
EVAL_TESTS := test_eval test_schedule_eval
CPPFLAGS += -Ilib/eval
define eval_variant
$$(EVAL_SRCS:%.c=$(1)/obj/%.o) $$(EVAL_TESTS:%=$(1)/obj/tests/unit/%.o): $(wildcard lib/eval/*.h lib/state/*.h)

$(1)/libvsneval.a: $$(EVAL_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$$(EVAL_TESTS:%=$(1)/tests/unit/%): $(1)/tests/unit/%: $(1)/obj/tests/unit/%.o $(1)/libvsneval.a $(1)/libvsnstate.a $(1)/libvsntls.a $(1)/libvsndp.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(STATE_LDLIBS) -lpthread -lcmocka
endef
$(eval $(call eval_variant,$(B),))
$(eval $(call eval_variant,$(B)/san,$(SANFLAGS)))
all: $(B)/libvsneval.a $(B)/san/libvsneval.a $(EVAL_TESTS:%=$(B)/tests/unit/%) $(EVAL_TESTS:%=$(B)/san/tests/unit/%)

# The TZif reader is a parser of files from outside: fuzzed on its own.
$(B)/fuzz/fuzz_tz: tests/fuzz/fuzz_tz.c lib/eval/tz.c $(wildcard lib/eval/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu17 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< lib/eval/tz.c -lpthread

# libvsnprobe
# libvsnprobe: the controller's health probes and load scrapes of the SLBs (lib/probe,
# docs/probes.md), on libevent and OpenSSL. Its parsers are pure (the fuzz target takes only
# those); vsn-bench-probe measures the CPU of probing 1,000 local listeners every second.
PROBE_SRCS := $(wildcard lib/probe/*.c)
PROBE_PARSE_SRCS := lib/probe/err.c lib/probe/http_parse.c lib/probe/scrape_parse.c
PROBE_BENCH_SRCS := $(wildcard bench-probe/*.c)
PROBE_LDLIBS := -levent_core -lssl -lcrypto -lm
CPPFLAGS += -Ilib/probe
define probe_variant
$$(PROBE_SRCS:%.c=$(1)/obj/%.o) $$(PROBE_BENCH_SRCS:%.c=$(1)/obj/%.o) $(1)/obj/tests/unit/test_probe.o $(1)/obj/tests/unit/test_scrape.o: $(wildcard lib/probe/*.h tests/unit/cert_dir.h)

$(1)/libvsnprobe.a: $$(PROBE_SRCS:%.c=$(1)/obj/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

# test_probe runs its own HTTP(S) servers on the loop (bufferevents), with certificates of libvsntls.
$(1)/tests/unit/test_probe: $(1)/obj/tests/unit/test_probe.o $(1)/libvsnprobe.a $(1)/libvsntls.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ -levent_openssl $$(PROBE_LDLIBS) -lcmocka

$(1)/tests/unit/test_scrape: $(1)/obj/tests/unit/test_scrape.o $(1)/libvsnprobe.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PROBE_LDLIBS) -lcmocka
endef
$(eval $(call probe_variant,$(B),))
$(eval $(call probe_variant,$(B)/san,$(SANFLAGS)))

$(B)/vsn-bench-probe: $(PROBE_BENCH_SRCS:%.c=$(B)/obj/%.o) $(B)/libvsnprobe.a $(B)/libvsntls.a
	$(CC) -o $@ $^ -levent_openssl $(PROBE_LDLIBS)

# The parsers' libFuzzer target (listed in FUZZ_BINS by its source).
$(B)/fuzz/fuzz_scrape: tests/fuzz/fuzz_scrape.c $(PROBE_PARSE_SRCS) $(wildcard lib/probe/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu17 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(PROBE_PARSE_SRCS) -lm
all: $(B)/libvsnprobe.a $(B)/san/libvsnprobe.a $(B)/vsn-bench-probe

# ---- make install / make uninstall (issue 9, docs/operations.md "Installing") ----
# The plain (non-sanitizer) binaries, the systemd units and the example configuration. The BPF
# objects are embedded in the binaries (skeletons): nothing else is needed at run time but the
# shared libraries. DESTDIR is honoured; SYSCONFDIR stays /etc whatever PREFIX is. Configuration
# goes to SYSCONFDIR/vsn only where absent (an operator's file is never overwritten), and uninstall
# removes it only when it is still byte-identical to the example installed beside it.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/vsn
INSTALL    ?= install
VSN_INSTALL_SBIN := vsnd vsn-node vsn-slb vsn-dpctl
VSN_INSTALL_BIN  := vsn
VSN_INSTALL_UNITS := $(notdir $(wildcard dist/systemd/*.service))
VSN_INSTALL_CONF := $(notdir $(wildcard dist/etc/vsn/*))
# The units and examples name the default paths; other PREFIX or SYSCONFDIR values are written in.
VSN_INSTALL_SUBST := sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/etc/vsn/|$(SYSCONFDIR)/vsn/|g' \
	-e 's|/usr/local/share/doc/vsn/|$(DOCDIR)/|g'
# The API's tokens are secrets: /etc/vsn/tokens is 0600 (its example holds none).
vsn_conf_mode = $(if $(filter tokens,$(1)),0600,0644)
.PHONY: install uninstall

install: $(VSN_INSTALL_SBIN:%=$(B)/%) $(VSN_INSTALL_BIN:%=$(B)/%)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/vsn
	$(INSTALL) -m 0755 $(VSN_INSTALL_SBIN:%=$(B)/%) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(VSN_INSTALL_BIN:%=$(B)/%) $(DESTDIR)$(BINDIR)/
	@set -e; for u in $(VSN_INSTALL_UNITS); do \
		$(VSN_INSTALL_SUBST) dist/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u.tmp; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp; \
		mv -f $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u; \
		echo "installed $(DESTDIR)$(UNITDIR)/$$u"; \
	done
	@set -e; $(foreach f,$(VSN_INSTALL_CONF), \
		ex=$(DESTDIR)$(DOCDIR)/examples/$(f); conf=$(DESTDIR)$(SYSCONFDIR)/vsn/$(f); \
		$(VSN_INSTALL_SUBST) dist/etc/vsn/$(f) >$$ex.tmp; \
		chmod 0644 $$ex.tmp; mv -f $$ex.tmp $$ex; \
		if [ -e $$conf ] || [ -L $$conf ]; then echo "kept $$conf (it exists; the example is $$ex)"; \
		else $(INSTALL) -m $(call vsn_conf_mode,$(f)) $$ex $$conf && echo "installed $$conf"; fi;)
	@[ -n "$(DESTDIR)" ] || echo "now: systemctl daemon-reload; docs/operations.md tells what to enable"

uninstall:
	rm -f $(VSN_INSTALL_SBIN:%=$(DESTDIR)$(SBINDIR)/%) $(VSN_INSTALL_BIN:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(VSN_INSTALL_UNITS:%=$(DESTDIR)$(UNITDIR)/%)
	@$(foreach f,$(VSN_INSTALL_CONF), \
		ex=$(DESTDIR)$(DOCDIR)/examples/$(f); conf=$(DESTDIR)$(SYSCONFDIR)/vsn/$(f); \
		if [ -f $$conf ] && [ ! -L $$conf ] && cmp -s $$ex $$conf; then rm -f $$conf; echo "removed $$conf"; \
		elif [ -e $$conf ]; then echo "kept $$conf (changed since it was installed)"; fi; \
		rm -f $$ex;)
	@for d in $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/vsn; do \
		[ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d; done
