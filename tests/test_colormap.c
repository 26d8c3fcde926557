/* Colour maps (byte-for-byte matplotlib 3.6 `cmap(v, bytes=True)`) and the
 * overlay blend. */
#include "cfp_render.h"
#include "test.h"

#include <math.h>
#include <string.h>

static int rgb_is(int cmap, float v, int r, int g, int b) {
    uint8_t c[3] = {1, 2, 3};
    cfp_colormap_rgb(cmap, v, c);
    if (c[0] == r && c[1] == g && c[2] == b) return 1;
    cfp_test_fail_here(__FILE__, __LINE__, "%s(%g) = (%d, %d, %d), expected (%d, %d, %d)",
                       cfp_colormap_name(cmap) ? cfp_colormap_name(cmap) : "?", (double)v, c[0], c[1],
                       c[2], r, g, b);
    return 0;
}

TEST(colormap_names) {
    CHECK_EQ(cfp_colormap_find("jet"), CFP_CMAP_JET);
    CHECK_EQ(cfp_colormap_find("Turbo"), CFP_CMAP_TURBO);
    CHECK_EQ(cfp_colormap_find("VIRIDIS"), CFP_CMAP_VIRIDIS);
    CHECK_EQ(cfp_colormap_find("inferno"), CFP_CMAP_INFERNO);
    CHECK_EQ(cfp_colormap_find("hot"), -1);
    CHECK_EQ(cfp_colormap_find(""), -1);
    CHECK_EQ(cfp_colormap_find(NULL), -1);
    CHECK(strcmp(cfp_colormap_name(CFP_CMAP_JET), "jet") == 0);
    CHECK(cfp_colormap_name(CFP_CMAP_COUNT) == NULL);
    CHECK(cfp_colormap_name(-1) == NULL);
}

/* Values from matplotlib 3.6.3: cmap(np.float32(v), bytes=True). */
TEST(colormap_matplotlib_values) {
    static const float vals[9] = {0.0f, 0.1f, 0.25f, 0.3333f, 0.5f, 0.75f, 0.9f, 0.999f, 1.0f};
    static const int ref[4][9][3] = {
        {{0, 0, 127}, {0, 0, 241}, {0, 128, 255}, {0, 212, 255}, {124, 255, 121}, {255, 148, 0},
         {241, 7, 0}, {127, 0, 0}, {127, 0, 0}},
        {{48, 18, 59}, {68, 88, 203}, {40, 187, 235}, {26, 228, 182}, {164, 252, 59}, {250, 125, 32},
         {195, 36, 2}, {122, 4, 2}, {122, 4, 2}},
        {{68, 1, 84}, {72, 35, 116}, {58, 82, 139}, {48, 103, 141}, {32, 144, 140}, {94, 201, 97},
         {189, 222, 38}, {253, 231, 36}, {253, 231, 36}},
        {{0, 0, 3}, {22, 11, 57}, {87, 15, 109}, {120, 28, 109}, {187, 55, 84}, {249, 142, 8},
         {245, 215, 69}, {252, 254, 164}, {252, 254, 164}},
    };
    for (int m = 0; m < 4; m++)
        for (int i = 0; i < 9; i++) rgb_is(m, vals[i], ref[m][i][0], ref[m][i][1], ref[m][i][2]);
}

TEST(colormap_range) {
    /* jet's ends: matplotlib's (0, 0, 0.5) and (0.5, 0, 0) as bytes (truncated) */
    rgb_is(CFP_CMAP_JET, 0.0f, 0, 0, 127);
    rgb_is(CFP_CMAP_JET, 1.0f, 127, 0, 0);
    /* out of range clamps to the end colours (matplotlib's default under/over) */
    rgb_is(CFP_CMAP_JET, -0.5f, 0, 0, 127);
    rgb_is(CFP_CMAP_JET, -INFINITY, 0, 0, 127);
    rgb_is(CFP_CMAP_JET, 7.0f, 127, 0, 0);
    rgb_is(CFP_CMAP_JET, INFINITY, 127, 0, 0);
    /* NaN: black; an unknown map: jet */
    rgb_is(CFP_CMAP_VIRIDIS, NAN, 0, 0, 0);
    rgb_is(99, 0.0f, 0, 0, 127);
    rgb_is(-1, 1.0f, 127, 0, 0);
    /* entry boundaries: v picks entry floor(v * 256) */
    uint8_t a[3], b[3];
    cfp_colormap_rgb(CFP_CMAP_VIRIDIS, 1.0f / 256, a);
    cfp_colormap_rgb(CFP_CMAP_VIRIDIS, nextafterf(1.0f / 256, 0), b);
    CHECK(memcmp(a, b, 3) != 0);
    rgb_is(CFP_CMAP_VIRIDIS, nextafterf(1.0f / 256, 0), 68, 1, 84);
}

TEST(colormap_overlay) {
    /* 3x2 frame: every case of the blend */
    float map[6] = {0.0f, 1.0f, NAN, -3.0f, 0.5f, 2.0f};
    uint8_t frame[18], out[18];
    for (int i = 0; i < 18; i++) frame[i] = (uint8_t)(i * 14 + 3);
    cfp_overlay(map, frame, out, 3, 2, CFP_CMAP_JET, 0.5f);
    static const int col[6][3] = {{0, 0, 127}, {127, 0, 0}, {0, 0, 0}, {0, 0, 127}, {124, 255, 121}, {127, 0, 0}};
    for (int p = 0; p < 6; p++)
        for (int k = 0; k < 3; k++) {
            int f = frame[3 * p + k];
            int expect = p == 2 ? f : (int)floor(0.5 * f + 0.5 * col[p][k] + 0.5);
            CHECK_EQ(out[3 * p + k], expect);
        }
    /* 0.5 * 3 + 0.5 * 0 = 1.5 rounds to 2; 0.5*17 + 0.5*0 = 8.5 -> 9 */
    CHECK_EQ(out[0], 2);
    CHECK_EQ(out[1], 9);
    /* alpha 0: the frame; alpha 1: the colours; clamped; NaN alpha = 0.5 */
    cfp_overlay(map, frame, out, 3, 2, CFP_CMAP_JET, 0.0f);
    CHECK(memcmp(out, frame, 18) == 0);
    cfp_overlay(map, frame, out, 3, 2, CFP_CMAP_JET, -2.0f);
    CHECK(memcmp(out, frame, 18) == 0);
    cfp_overlay(map, frame, out, 3, 2, CFP_CMAP_JET, 1.0f);
    CHECK_EQ(out[12], 124);
    CHECK_EQ(out[13], 255);
    CHECK_EQ(out[14], 121);
    CHECK_EQ(out[6], frame[6]); /* NaN pixel untouched even at alpha 1 */
    uint8_t o2[18];
    cfp_overlay(map, frame, out, 3, 2, CFP_CMAP_TURBO, 5.0f);
    cfp_overlay(map, frame, o2, 3, 2, CFP_CMAP_TURBO, 1.0f);
    CHECK(memcmp(out, o2, 18) == 0);
    cfp_overlay(map, frame, out, 3, 2, CFP_CMAP_INFERNO, NAN);
    cfp_overlay(map, frame, o2, 3, 2, CFP_CMAP_INFERNO, 0.5f);
    CHECK(memcmp(out, o2, 18) == 0);
    /* alpha 0.25 arithmetic: 0.75 * 255 + 0.25 * 0 = 191.25 -> 191 */
    float one = 1.0f;
    uint8_t white[3] = {255, 255, 255}, px[3];
    cfp_overlay(&one, white, px, 1, 1, CFP_CMAP_JET, 0.25f);
    CHECK_EQ(px[0], 223); /* 191.25 + 0.25 * 127 = 223 */
    CHECK_EQ(px[1], 191);
    CHECK_EQ(px[2], 191);
    /* in place */
    memcpy(o2, frame, 18);
    cfp_overlay(map, o2, o2, 3, 2, CFP_CMAP_VIRIDIS, 0.3f);
    cfp_overlay(map, frame, out, 3, 2, CFP_CMAP_VIRIDIS, 0.3f);
    CHECK(memcmp(out, o2, 18) == 0);
    /* degenerate sizes do nothing */
    memset(out, 42, 18);
    cfp_overlay(map, frame, out, 0, 2, CFP_CMAP_JET, 0.5f);
    cfp_overlay(map, frame, out, 3, -1, CFP_CMAP_JET, 0.5f);
    CHECK_EQ(out[0], 42);
}
