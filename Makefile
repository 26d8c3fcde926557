# cfp — see README.md. `make demo` and `make test` are the two set-up commands.
CC      ?= cc
BUILD   ?= build
PKGS    := openblas libavformat libavcodec libswscale libavutil
# Portable x86-64 baseline; hot loops carry AVX2/AVX-512 clones picked at run time.
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -fPIC -pthread -Wall -Wextra -Wno-unused-parameter \
           -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
SAN     ?=

LIB_SRC  := $(wildcard src/*.c src/ops/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard tools/*.c)
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

$(BUILD)/libcfp.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcfp.so: $(LIB_OBJ)
	$(CC) -shared $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/cfp: $(CLI_OBJ) $(BUILD)/libcfp.a
	$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/cfp_test: $(TEST_OBJ) $(BUILD)/libcfp.a
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
