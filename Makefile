# cfp — see README.md. `make demo` and `make test` are the two set-up commands.
CC      ?= cc
BUILD   ?= build
PKGS    := openblas libavformat libavcodec libswscale libavutil libpng libgif
# Portable x86-64 baseline; hot loops carry AVX2/AVX-512 clones picked at run time.
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -fPIC -pthread -Wall -Wextra -Wno-unused-parameter \
           -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
SAN     ?=

LIB_SRC  := $(wildcard src/*.c src/ops/*.c src/out/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(filter-out tools/embed.c,$(wildcard tools/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
DEPS_OK  := $(BUILD)/.deps-ok

.PHONY: all test test-asan test-full demo bench clean deps
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

test: $(BUILD)/cfp $(BUILD)/cfp_test
	@CFP_POISON=1 CFP_SOURCE_DIR=$(CURDIR) CFP_BIN=$(CURDIR)/$(BUILD)/cfp $(BUILD)/cfp_test

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	@$(MAKE) -s BUILD=build-asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" test

# Full-size torchvision models with random weights (needs Debian's PyTorch).
test-full: $(BUILD)/cfp
	@scripts/test-full.sh $(BUILD)

demo: $(BUILD)/cfp
	@scripts/demo.sh $(BUILD)

bench: $(BUILD)/cfp
	@echo "make bench: the side-by-side benchmark arrives with the speed issue"; exit 1

clean:
	rm -rf $(BUILD) build-asan

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
