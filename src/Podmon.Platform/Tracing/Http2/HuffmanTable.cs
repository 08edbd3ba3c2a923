namespace Podmon.Tracing.Http2;

/// <summary>
/// The HPACK Huffman code of RFC 7541 Appendix B, as data: for each symbol (the octets 0-255, then EOS
/// = 256) its code, right-aligned, and the code's length in bits. The code is canonical (codes of one
/// length increase with the symbol) and complete (Kraft sum 1); HuffmanTableTests checks both, so a
/// mistyped entry cannot pass unnoticed.
/// </summary>
internal static class HuffmanTable
{
    public const int Eos = 256;

    /// <summary>Code of each symbol, indexed by symbol, right-aligned to its length.</summary>
    public static ReadOnlySpan<uint> Codes =>
    [
        0x1ff8,      // (  0) 13 bits
        0x7fffd8,    // (  1) 23 bits
        0xfffffe2,   // (  2) 28 bits
        0xfffffe3,   // (  3) 28 bits
        0xfffffe4,   // (  4) 28 bits
        0xfffffe5,   // (  5) 28 bits
        0xfffffe6,   // (  6) 28 bits
        0xfffffe7,   // (  7) 28 bits
        0xfffffe8,   // (  8) 28 bits
        0xffffea,    // (  9) 24 bits
        0x3ffffffc,  // ( 10) 30 bits
        0xfffffe9,   // ( 11) 28 bits
        0xfffffea,   // ( 12) 28 bits
        0x3ffffffd,  // ( 13) 30 bits
        0xfffffeb,   // ( 14) 28 bits
        0xfffffec,   // ( 15) 28 bits
        0xfffffed,   // ( 16) 28 bits
        0xfffffee,   // ( 17) 28 bits
        0xfffffef,   // ( 18) 28 bits
        0xffffff0,   // ( 19) 28 bits
        0xffffff1,   // ( 20) 28 bits
        0xffffff2,   // ( 21) 28 bits
        0x3ffffffe,  // ( 22) 30 bits
        0xffffff3,   // ( 23) 28 bits
        0xffffff4,   // ( 24) 28 bits
        0xffffff5,   // ( 25) 28 bits
        0xffffff6,   // ( 26) 28 bits
        0xffffff7,   // ( 27) 28 bits
        0xffffff8,   // ( 28) 28 bits
        0xffffff9,   // ( 29) 28 bits
        0xffffffa,   // ( 30) 28 bits
        0xffffffb,   // ( 31) 28 bits
        0x14,        // ( 32)  6 bits ' '
        0x3f8,       // ( 33) 10 bits '!'
        0x3f9,       // ( 34) 10 bits '"'
        0xffa,       // ( 35) 12 bits '#'
        0x1ff9,      // ( 36) 13 bits '$'
        0x15,        // ( 37)  6 bits '%'
        0xf8,        // ( 38)  8 bits '&'
        0x7fa,       // ( 39) 11 bits '\''
        0x3fa,       // ( 40) 10 bits '('
        0x3fb,       // ( 41) 10 bits ')'
        0xf9,        // ( 42)  8 bits '*'
        0x7fb,       // ( 43) 11 bits '+'
        0xfa,        // ( 44)  8 bits ','
        0x16,        // ( 45)  6 bits '-'
        0x17,        // ( 46)  6 bits '.'
        0x18,        // ( 47)  6 bits '/'
        0x0,         // ( 48)  5 bits '0'
        0x1,         // ( 49)  5 bits '1'
        0x2,         // ( 50)  5 bits '2'
        0x19,        // ( 51)  6 bits '3'
        0x1a,        // ( 52)  6 bits '4'
        0x1b,        // ( 53)  6 bits '5'
        0x1c,        // ( 54)  6 bits '6'
        0x1d,        // ( 55)  6 bits '7'
        0x1e,        // ( 56)  6 bits '8'
        0x1f,        // ( 57)  6 bits '9'
        0x5c,        // ( 58)  7 bits ':'
        0xfb,        // ( 59)  8 bits ';'
        0x7ffc,      // ( 60) 15 bits '<'
        0x20,        // ( 61)  6 bits '='
        0xffb,       // ( 62) 12 bits '>'
        0x3fc,       // ( 63) 10 bits '?'
        0x1ffa,      // ( 64) 13 bits '@'
        0x21,        // ( 65)  6 bits 'A'
        0x5d,        // ( 66)  7 bits 'B'
        0x5e,        // ( 67)  7 bits 'C'
        0x5f,        // ( 68)  7 bits 'D'
        0x60,        // ( 69)  7 bits 'E'
        0x61,        // ( 70)  7 bits 'F'
        0x62,        // ( 71)  7 bits 'G'
        0x63,        // ( 72)  7 bits 'H'
        0x64,        // ( 73)  7 bits 'I'
        0x65,        // ( 74)  7 bits 'J'
        0x66,        // ( 75)  7 bits 'K'
        0x67,        // ( 76)  7 bits 'L'
        0x68,        // ( 77)  7 bits 'M'
        0x69,        // ( 78)  7 bits 'N'
        0x6a,        // ( 79)  7 bits 'O'
        0x6b,        // ( 80)  7 bits 'P'
        0x6c,        // ( 81)  7 bits 'Q'
        0x6d,        // ( 82)  7 bits 'R'
        0x6e,        // ( 83)  7 bits 'S'
        0x6f,        // ( 84)  7 bits 'T'
        0x70,        // ( 85)  7 bits 'U'
        0x71,        // ( 86)  7 bits 'V'
        0x72,        // ( 87)  7 bits 'W'
        0xfc,        // ( 88)  8 bits 'X'
        0x73,        // ( 89)  7 bits 'Y'
        0xfd,        // ( 90)  8 bits 'Z'
        0x1ffb,      // ( 91) 13 bits '['
        0x7fff0,     // ( 92) 19 bits '\\'
        0x1ffc,      // ( 93) 13 bits ']'
        0x3ffc,      // ( 94) 14 bits '^'
        0x22,        // ( 95)  6 bits '_'
        0x7ffd,      // ( 96) 15 bits '`'
        0x3,         // ( 97)  5 bits 'a'
        0x23,        // ( 98)  6 bits 'b'
        0x4,         // ( 99)  5 bits 'c'
        0x24,        // (100)  6 bits 'd'
        0x5,         // (101)  5 bits 'e'
        0x25,        // (102)  6 bits 'f'
        0x26,        // (103)  6 bits 'g'
        0x27,        // (104)  6 bits 'h'
        0x6,         // (105)  5 bits 'i'
        0x74,        // (106)  7 bits 'j'
        0x75,        // (107)  7 bits 'k'
        0x28,        // (108)  6 bits 'l'
        0x29,        // (109)  6 bits 'm'
        0x2a,        // (110)  6 bits 'n'
        0x7,         // (111)  5 bits 'o'
        0x2b,        // (112)  6 bits 'p'
        0x76,        // (113)  7 bits 'q'
        0x2c,        // (114)  6 bits 'r'
        0x8,         // (115)  5 bits 's'
        0x9,         // (116)  5 bits 't'
        0x2d,        // (117)  6 bits 'u'
        0x77,        // (118)  7 bits 'v'
        0x78,        // (119)  7 bits 'w'
        0x79,        // (120)  7 bits 'x'
        0x7a,        // (121)  7 bits 'y'
        0x7b,        // (122)  7 bits 'z'
        0x7ffe,      // (123) 15 bits '{'
        0x7fc,       // (124) 11 bits '|'
        0x3ffd,      // (125) 14 bits '}'
        0x1ffd,      // (126) 13 bits '~'
        0xffffffc,   // (127) 28 bits
        0xfffe6,     // (128) 20 bits
        0x3fffd2,    // (129) 22 bits
        0xfffe7,     // (130) 20 bits
        0xfffe8,     // (131) 20 bits
        0x3fffd3,    // (132) 22 bits
        0x3fffd4,    // (133) 22 bits
        0x3fffd5,    // (134) 22 bits
        0x7fffd9,    // (135) 23 bits
        0x3fffd6,    // (136) 22 bits
        0x7fffda,    // (137) 23 bits
        0x7fffdb,    // (138) 23 bits
        0x7fffdc,    // (139) 23 bits
        0x7fffdd,    // (140) 23 bits
        0x7fffde,    // (141) 23 bits
        0xffffeb,    // (142) 24 bits
        0x7fffdf,    // (143) 23 bits
        0xffffec,    // (144) 24 bits
        0xffffed,    // (145) 24 bits
        0x3fffd7,    // (146) 22 bits
        0x7fffe0,    // (147) 23 bits
        0xffffee,    // (148) 24 bits
        0x7fffe1,    // (149) 23 bits
        0x7fffe2,    // (150) 23 bits
        0x7fffe3,    // (151) 23 bits
        0x7fffe4,    // (152) 23 bits
        0x1fffdc,    // (153) 21 bits
        0x3fffd8,    // (154) 22 bits
        0x7fffe5,    // (155) 23 bits
        0x3fffd9,    // (156) 22 bits
        0x7fffe6,    // (157) 23 bits
        0x7fffe7,    // (158) 23 bits
        0xffffef,    // (159) 24 bits
        0x3fffda,    // (160) 22 bits
        0x1fffdd,    // (161) 21 bits
        0xfffe9,     // (162) 20 bits
        0x3fffdb,    // (163) 22 bits
        0x3fffdc,    // (164) 22 bits
        0x7fffe8,    // (165) 23 bits
        0x7fffe9,    // (166) 23 bits
        0x1fffde,    // (167) 21 bits
        0x7fffea,    // (168) 23 bits
        0x3fffdd,    // (169) 22 bits
        0x3fffde,    // (170) 22 bits
        0xfffff0,    // (171) 24 bits
        0x1fffdf,    // (172) 21 bits
        0x3fffdf,    // (173) 22 bits
        0x7fffeb,    // (174) 23 bits
        0x7fffec,    // (175) 23 bits
        0x1fffe0,    // (176) 21 bits
        0x1fffe1,    // (177) 21 bits
        0x3fffe0,    // (178) 22 bits
        0x1fffe2,    // (179) 21 bits
        0x7fffed,    // (180) 23 bits
        0x3fffe1,    // (181) 22 bits
        0x7fffee,    // (182) 23 bits
        0x7fffef,    // (183) 23 bits
        0xfffea,     // (184) 20 bits
        0x3fffe2,    // (185) 22 bits
        0x3fffe3,    // (186) 22 bits
        0x3fffe4,    // (187) 22 bits
        0x7ffff0,    // (188) 23 bits
        0x3fffe5,    // (189) 22 bits
        0x3fffe6,    // (190) 22 bits
        0x7ffff1,    // (191) 23 bits
        0x3ffffe0,   // (192) 26 bits
        0x3ffffe1,   // (193) 26 bits
        0xfffeb,     // (194) 20 bits
        0x7fff1,     // (195) 19 bits
        0x3fffe7,    // (196) 22 bits
        0x7ffff2,    // (197) 23 bits
        0x3fffe8,    // (198) 22 bits
        0x1ffffec,   // (199) 25 bits
        0x3ffffe2,   // (200) 26 bits
        0x3ffffe3,   // (201) 26 bits
        0x3ffffe4,   // (202) 26 bits
        0x7ffffde,   // (203) 27 bits
        0x7ffffdf,   // (204) 27 bits
        0x3ffffe5,   // (205) 26 bits
        0xfffff1,    // (206) 24 bits
        0x1ffffed,   // (207) 25 bits
        0x7fff2,     // (208) 19 bits
        0x1fffe3,    // (209) 21 bits
        0x3ffffe6,   // (210) 26 bits
        0x7ffffe0,   // (211) 27 bits
        0x7ffffe1,   // (212) 27 bits
        0x3ffffe7,   // (213) 26 bits
        0x7ffffe2,   // (214) 27 bits
        0xfffff2,    // (215) 24 bits
        0x1fffe4,    // (216) 21 bits
        0x1fffe5,    // (217) 21 bits
        0x3ffffe8,   // (218) 26 bits
        0x3ffffe9,   // (219) 26 bits
        0xffffffd,   // (220) 28 bits
        0x7ffffe3,   // (221) 27 bits
        0x7ffffe4,   // (222) 27 bits
        0x7ffffe5,   // (223) 27 bits
        0xfffec,     // (224) 20 bits
        0xfffff3,    // (225) 24 bits
        0xfffed,     // (226) 20 bits
        0x1fffe6,    // (227) 21 bits
        0x3fffe9,    // (228) 22 bits
        0x1fffe7,    // (229) 21 bits
        0x1fffe8,    // (230) 21 bits
        0x7ffff3,    // (231) 23 bits
        0x3fffea,    // (232) 22 bits
        0x3fffeb,    // (233) 22 bits
        0x1ffffee,   // (234) 25 bits
        0x1ffffef,   // (235) 25 bits
        0xfffff4,    // (236) 24 bits
        0xfffff5,    // (237) 24 bits
        0x3ffffea,   // (238) 26 bits
        0x7ffff4,    // (239) 23 bits
        0x3ffffeb,   // (240) 26 bits
        0x7ffffe6,   // (241) 27 bits
        0x3ffffec,   // (242) 26 bits
        0x3ffffed,   // (243) 26 bits
        0x7ffffe7,   // (244) 27 bits
        0x7ffffe8,   // (245) 27 bits
        0x7ffffe9,   // (246) 27 bits
        0x7ffffea,   // (247) 27 bits
        0x7ffffeb,   // (248) 27 bits
        0xffffffe,   // (249) 28 bits
        0x7ffffec,   // (250) 27 bits
        0x7ffffed,   // (251) 27 bits
        0x7ffffee,   // (252) 27 bits
        0x7ffffef,   // (253) 27 bits
        0x7fffff0,   // (254) 27 bits
        0x3ffffee,   // (255) 26 bits
        0x3fffffff,  // (256) 30 bits EOS
    ];

    /// <summary>Length in bits of each symbol's code, indexed by symbol.</summary>
    public static ReadOnlySpan<byte> Lengths =>
    [
        /*   0 */ 13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        /*  16 */ 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        /*  32 */ 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        /*  48 */ 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        /*  64 */ 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        /*  80 */ 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        /*  96 */ 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        /* 112 */ 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        /* 128 */ 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        /* 144 */ 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        /* 160 */ 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        /* 176 */ 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        /* 192 */ 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        /* 208 */ 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        /* 224 */ 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        /* 240 */ 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        /* 256 */ 30,
    ];
}
