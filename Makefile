# cfp — see README.md. `make demo` and `make test` are the two set-up commands.
CC      ?= cc
BUILD   ?= build
PKGS    := openblas libavformat libavcodec libswscale libavutil libpng libgif
# Portable x86-64 baseline; hot loops carry AVX2/AVX-512 clones picked at run time.
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -fPIC -pthread -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
           -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldnnl -ldl -lm -pthread
SAN     ?=

LIB_SRC  := $(wildcard src/*.c src/ops/*.c src/out/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(filter-out tools/embed.c,$(wildcard tools/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
DEPS_OK  := $(BUILD)/.deps-ok

.PHONY: all test test-asan test-full demo bench clean deps fuzz fuzz-bins test-malloc test-valgrind
all: $(BUILD)/cfp $(BUILD)/libcfp.a $(BUILD)/libcfp.so

# Installs (as root) or names the Debian packages that are missing.
$(DEPS_OK): scripts/install-deps.sh
	@scripts/install-deps.sh
	@mkdir -p $(BUILD) && touch $@
deps: ; @scripts/install-deps.sh

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -MMD -MP -c $< -o $@

# The report page (assets/report/) is embedded into the binary: tools/embed.c
# turns the files into byte arrays in $(BUILD)/gen/report_assets.c (+ .h).
REPORT_ASSETS := assets/report/index.html assets/report/report.js assets/report/report.css
REPORT_OBJ    := $(BUILD)/gen/report_assets.o
$(BUILD)/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c11 -Wall -Wextra -o $@ $<
$(BUILD)/gen/report_assets.c: $(BUILD)/embed $(REPORT_ASSETS)
	@mkdir -p $(dir $@)
	$(BUILD)/embed $@ $(BUILD)/gen/report_assets.h cli_report $(REPORT_ASSETS)
$(BUILD)/gen/report_assets.h: $(BUILD)/gen/report_assets.c ;
$(REPORT_OBJ): $(BUILD)/gen/report_assets.c
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@
$(BUILD)/tools/report.o $(BUILD)/tests/test_report.o: CFLAGS += -I$(BUILD)/gen
$(BUILD)/tools/report.o $(BUILD)/tests/test_report.o: $(BUILD)/gen/report_assets.h

$(BUILD)/libcfp.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcfp.so: $(LIB_OBJ)
	$(CC) -shared $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/cfp: $(CLI_OBJ) $(REPORT_OBJ) $(BUILD)/libcfp.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/cfp_test: $(TEST_OBJ) $(REPORT_OBJ) $(BUILD)/libcfp.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# The malloc-failure binary (see test-malloc) runs inside the suite, except
# under sanitizers, which replace malloc themselves.
MALLOC_TEST := $(if $(SAN),,$(BUILD)/test_malloc)
test: $(BUILD)/cfp $(BUILD)/cfp_test $(MALLOC_TEST)
	@CFP_POISON=1 CFP_SOURCE_DIR=$(CURDIR) CFP_BIN=$(CURDIR)/$(BUILD)/cfp \
	    CFP_MALLOC_TEST=$(if $(MALLOC_TEST),$(CURDIR)/$(MALLOC_TEST)) $(BUILD)/cfp_test

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	@$(MAKE) -s BUILD=build-asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" test

# libFuzzer targets (fuzz/, clang): each runs FUZZ_SECONDS (default 60) from
# the seeds in fuzz/corpus/; findings go to build-fuzz/artifacts/. FUZZ=onnx
# runs one. Needs clang and its runtimes, which are not needed otherwise.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := onnx tensor sidecar video
FUZZ         ?= $(FUZZ_TARGETS)
FUZZ_SAN     := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz:
	@CFP_DEPS_EXTRA="clang libclang-rt-14-dev" scripts/install-deps.sh
	@$(MAKE) -s BUILD=build-fuzz CC=clang SAN="$(FUZZ_SAN)" fuzz-bins
	@test -d build-fuzz/seeds || fuzz/seeds.sh build-fuzz/seeds
	@fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ)
fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%)
$(BUILD)/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/libcfp.a
	$(CC) $(SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# Malloc-failure mode: the Nth allocation fails, over the loader and a full
# run (tests/malloc/test_malloc.c replaces malloc, so it is its own binary).
# Every dnnl_* function cfp calls is wrapped (-Wl,--wrap): see the test.
DNNL_WRAP := engine_create dilated_convolution_forward_desc_init memory_create memory_desc_equal \
	memory_desc_get_size memory_desc_init_by_tag memory_destroy memory_get_memory_desc \
	memory_set_data_handle primitive_create primitive_desc_create primitive_desc_destroy \
	primitive_desc_query primitive_desc_query_md primitive_destroy primitive_execute \
	reorder_primitive_desc_create stream_create stream_destroy stream_wait sgemm
$(BUILD)/test_malloc: $(BUILD)/tests/malloc/test_malloc.o $(BUILD)/libcfp.a
	$(CC) $(SAN) -o $@ $^ $(DNNL_WRAP:%=-Wl,--wrap=dnnl_%) $(LDLIBS) -ldl
# Twice: with oneDNN's convolutions, and with cfp's own (CFP_CONV=gemm).
test-malloc: $(BUILD)/test_malloc
	@OPENBLAS_NUM_THREADS=1 CFP_SOURCE_DIR=$(CURDIR) $(BUILD)/test_malloc
	@CFP_CONV=gemm OPENBLAS_NUM_THREADS=1 CFP_SOURCE_DIR=$(CURDIR) $(BUILD)/test_malloc

# The end-to-end CLI tests (tests/test_cli.c, the bad-input table of
# tests/test_badinput.c) with every cfp run under valgrind's memcheck: no
# memory errors, no definite leaks. Slow: tens of minutes.
# valgrind-lib/libhwy.so.1: see tests/valgrind/hwy_stub.c.
VALGRIND_LOGS := $(BUILD)/valgrind
$(BUILD)/valgrind-lib/libhwy.so.1: tests/valgrind/hwy_stub.c tests/valgrind/hwy_stub.map
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -o $@ -Wl,-soname,libhwy.so.1 -Wl,--version-script=tests/valgrind/hwy_stub.map $<
test-valgrind: $(BUILD)/cfp $(BUILD)/cfp_test $(BUILD)/valgrind-lib/libhwy.so.1
	@rm -rf $(VALGRIND_LOGS) && mkdir -p $(VALGRIND_LOGS)
	@fail=0; for t in cli_version cli_info cli_run cli_bench cli_bad_input cli_explain cli_predict "badinput: "; do \
	    CFP_POISON=1 CFP_SOURCE_DIR=$(CURDIR) CFP_REAL_BIN=$(CURDIR)/$(BUILD)/cfp \
	    CFP_VALGRIND_LOGS=$(CURDIR)/$(VALGRIND_LOGS) CFP_VALGRIND_LIBPATH=$(CURDIR)/$(BUILD)/valgrind-lib \
	    CFP_BIN=$(CURDIR)/tests/valgrind/cfp-valgrind.sh $(BUILD)/cfp_test "$$t" || fail=1; done; \
	tests/valgrind/check.sh $(VALGRIND_LOGS) || fail=1; exit $$fail

# Full-size torchvision models with random weights (needs Debian's PyTorch).
test-full: $(BUILD)/cfp
	@scripts/test-full.sh $(BUILD)

demo: $(BUILD)/cfp
	@scripts/demo.sh $(BUILD)

# cfp, ONNX Runtime and PyTorch side by side (bench/run.sh; docs/benchmarks.md).
# BENCH_ARGS passes options to bench/bench.py, e.g. BENCH_ARGS="--only s3d".
bench: $(BUILD)/cfp
	@bench/run.sh $(BUILD) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BUILD)/tests/malloc/test_malloc.d
