/*
 * xdp_responder.c — an XDP program that answers ARP requests (RFC 826) and IPv6 Neighbor Solicitations (RFC 4861
 * §7.2.4) for the VIPs of a BPF map inside the driver's receive path (XDP_TX), before any socket or thread: the
 * answer leaves in the softirq that received the request, as the kernel's own answer for a local address does.
 * Everything else, and every request it is not sure of, goes on to the stack (XDP_PASS), where the native thread
 * (neighbor_responder.c) decides as before.
 *
 * Why eBPF instructions written here, not C compiled by clang: no toolchain in the build or the image (no clang,
 * no libbpf, no ELF loader); the program is ~340 instructions (110 with ARP only) whose constants (our MAC, our
 * link-local address) are immediates filled in at load time, the kernel's verifier checks every path of it at load,
 * and test/unit/xdp-responder.test.ts runs it (BPF_PROG_TEST_RUN) against the JS codecs. The small assembler below
 * resolves jumps to named labels, so no offset is counted by hand.
 *
 * new XdpResponder(mac, linkLocal | null, answerFromTarget) creates the maps (VIPs: hash, 16-byte keys, IPv4 as
 * ::ffff:a.b.c.d; counters: per-CPU array) and loads the program (needs CAP_BPF + CAP_NET_ADMIN, or root).
 * update(adds[], removes[]) changes the VIP map. attach(ifindex, mode: 0 auto | 1 native | 2 generic) -> 'native' |
 * 'generic' attaches it through a BPF link (BPF_LINK_CREATE): the program stays attached while the link's file
 * descriptor is open, so the process's exit — SIGKILL included — detaches it, and nothing is pinned. detach() closes
 * the link. stats() -> { counter: n } sums the per-CPU counters. testRun(frame) -> [action, frame'] runs the program
 * once on a frame (BPF_PROG_TEST_RUN), for tests. close() detaches and closes every descriptor.
 *
 * What it answers (everything else: XDP_PASS): frames to our MAC or to a group address, not from our MAC;
 * ARP: Ethernet/IPv4 request, sender hardware address not ours, sender IP ≠ target IP (no gratuitous ARP), target in
 * the map -> the 60-byte reply neighbor_responder.c and frames/arp.ts build. NDP: IPv6 with ICMPv6 as first next
 * header, type 135, hop limit 255, payload 24 bytes (no option) or 32 (one Source Link-Layer Address option), valid
 * checksum, code 0, a non-multicast target in the map, a specified source (a DAD probe from :: goes to the thread) ->
 * the 86-byte NA (Solicited, Override, our MAC as Target Link-Layer Address) the thread and frames/ndp.ts build.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)
#define MAX_INSNS 512
#define MAX_LABELS 32
#define MAX_VIPS 65536

/* Counters (the per-CPU array's slots). */
enum { C_ARP_ANSWERED, C_NDP_ANSWERED, C_ARP_PASSED, C_NDP_PASSED, C_ARP_RESIZE_FAILED, C_NDP_RESIZE_FAILED, C_COUNT };
static const char *const COUNTER[C_COUNT] = {"arpAnswered",       "ndpAnswered",      "arpPassed",
                                             "ndpPassed",         "arpResizeFailed",  "ndpResizeFailed"};

/* ---- a tiny assembler: instructions, labels, jumps resolved at the end ---- */

typedef struct {
  struct bpf_insn insn[MAX_INSNS];
  int n;
  int label_at[MAX_LABELS];
  int jump_label[MAX_INSNS]; /* label a jump at this index goes to, or -1 */
  bool overflow;
} prog_t;

static void emit(prog_t *p, struct bpf_insn i) {
  if (p->n >= MAX_INSNS) {
    p->overflow = true;
    return;
  }
  p->jump_label[p->n] = -1;
  p->insn[p->n++] = i;
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
/* dst = imm, dst = src (64-bit); ALU with an immediate or a register */
static void mov_imm(prog_t *p, int d, int32_t imm) { emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, imm)); }
static void mov_reg(prog_t *p, int d, int s) { emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)); }
static void mov32_reg(prog_t *p, int d, int s) { emit(p, INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)); }
static void alu_imm(prog_t *p, int op, int d, int32_t imm) { emit(p, INSN(BPF_ALU64 | op | BPF_K, d, 0, 0, imm)); }
static void alu_reg(prog_t *p, int op, int d, int s) { emit(p, INSN(BPF_ALU64 | op | BPF_X, d, s, 0, 0)); }
/* loads and stores: size BPF_B / BPF_H / BPF_W / BPF_DW */
static void ldx(prog_t *p, int size, int d, int s, int16_t off) { emit(p, INSN(BPF_LDX | BPF_MEM | size, d, s, off, 0)); }
static void stx(prog_t *p, int size, int d, int16_t off, int s) { emit(p, INSN(BPF_STX | BPF_MEM | size, d, s, off, 0)); }
static void st(prog_t *p, int size, int d, int16_t off, int32_t imm) { emit(p, INSN(BPF_ST | BPF_MEM | size, d, 0, off, imm)); }
static void call(prog_t *p, int helper) { emit(p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper)); }
static void exit_(prog_t *p) { emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)); }
static void ld_map(prog_t *p, int d, int fd) {
  emit(p, INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd));
  emit(p, INSN(0, 0, 0, 0, 0));
}
/* jumps to a label: 32-bit compares with an immediate (JMP32: no sign extension surprises), 64-bit register ones */
static void jmp_to(prog_t *p, struct bpf_insn i, int label) {
  emit(p, i);
  if (!p->overflow) p->jump_label[p->n - 1] = label;
}
static void j32_imm(prog_t *p, int op, int d, int32_t imm, int label) {
  jmp_to(p, INSN(BPF_JMP32 | op | BPF_K, d, 0, 0, imm), label);
}
static void j_imm(prog_t *p, int op, int d, int32_t imm, int label) {
  jmp_to(p, INSN(BPF_JMP | op | BPF_K, d, 0, 0, imm), label);
}
static void j_reg(prog_t *p, int op, int d, int s, int label) { jmp_to(p, INSN(BPF_JMP | op | BPF_X, d, s, 0, 0), label); }
static void ja(prog_t *p, int label) { jmp_to(p, INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0), label); }
static void label(prog_t *p, int l) { p->label_at[l] = p->n; }

static bool resolve(prog_t *p) {
  if (p->overflow) return false;
  for (int i = 0; i < p->n; i++) {
    int l = p->jump_label[i];
    if (l < 0) continue;
    if (p->label_at[l] < 0) return false;
    p->insn[i].off = (int16_t)(p->label_at[l] - i - 1);
  }
  return true;
}

/* ---- the program ---- */

/* Labels. */
enum { L_PASS, L_ARP, L_IPV6, L_ARP_PASS, L_NDP_PASS, L_NS_SHORT, L_NS_CSUM, L_ETH_TO_SRC, L_ETH_DST_DONE,
       L_ARP_RESIZE_FAILED, L_NDP_RESIZE_FAILED, L_DST_OK, L_SRC_OK, L_SHA_OK };

enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };

/* Little-endian views of byte strings, for 16 / 32-bit loads compared with immediates (BPF loads are host order;
 * this program is for little-endian hosts, checked at load: x86_64, arm64, riscv64 as the image's platforms). */
static int32_t le32(const uint8_t *b) { return (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24); }
static int32_t le16(const uint8_t *b) { return (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8); }

/* count adds one to counter `slot` (per-CPU: no atomics). Clobbers r0-r5. */
static void count(prog_t *p, int counters_fd, int slot) {
  st(p, BPF_W, R10, -4, slot);
  ld_map(p, R1, counters_fd);
  mov_reg(p, R2, R10);
  alu_imm(p, BPF_ADD, R2, -4);
  call(p, BPF_FUNC_map_lookup_elem);
  emit(p, INSN(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 3, 0)); /* no slot: skip the three instructions below */
  ldx(p, BPF_DW, R1, R0, 0);
  alu_imm(p, BPF_ADD, R1, 1);
  stx(p, BPF_DW, R0, 0, R1);
}

/* store_mac writes our MAC at r7 + off. */
static void store_mac(prog_t *p, int16_t off, const uint8_t mac[6]) {
  st(p, BPF_W, R7, off, le32(mac));
  st(p, BPF_H, R7, (int16_t)(off + 4), le16(mac + 4));
}

/* reload_packet: r7 = data, r8 = data_end (after a helper that may move them). */
static void reload_packet(prog_t *p) {
  ldx(p, BPF_W, R7, R6, (int16_t)offsetof(struct xdp_md, data));
  ldx(p, BPF_W, R8, R6, (int16_t)offsetof(struct xdp_md, data_end));
}

/* resize makes the frame exactly `len` bytes (bpf_xdp_adjust_tail by len - its length), then reloads and checks the
 * bounds; on failure jumps to `failed`, which counts it and passes the frame on (the thread answers it). */
static void resize(prog_t *p, int len, int failed) {
  mov_reg(p, R1, R6);
  call(p, BPF_FUNC_xdp_get_buff_len);
  mov_imm(p, R2, len);
  alu_reg(p, BPF_SUB, R2, R0);
  mov_reg(p, R1, R6);
  call(p, BPF_FUNC_xdp_adjust_tail);
  j_imm(p, BPF_JNE, R0, 0, failed);
  reload_packet(p);
  mov_reg(p, R4, R7);
  alu_imm(p, BPF_ADD, R4, len);
  j_reg(p, BPF_JGT, R4, R8, failed);
}

/* csum_add: r9 = bpf_csum_diff(NULL, 0, r1 (set by the caller), size, r9). */
static void csum_add(prog_t *p, int size) {
  mov_imm(p, R2, 0);
  mov_reg(p, R3, R1);
  mov_imm(p, R1, 0);
  mov_imm(p, R4, size);
  mov_reg(p, R5, R9);
  call(p, BPF_FUNC_csum_diff);
  mov_reg(p, R9, R0);
}

/* csum_fold: r9 = the 16-bit one's complement sum of r9's low 32 bits (folded three times: carries of carries). */
static void csum_fold(prog_t *p) {
  mov32_reg(p, R9, R9);
  for (int i = 0; i < 3; i++) {
    mov_reg(p, R1, R9);
    alu_imm(p, BPF_RSH, R1, 16);
    alu_imm(p, BPF_AND, R9, 0xffff);
    alu_reg(p, BPF_ADD, R9, R1);
  }
}

/* pseudo_header_tail puts the last 8 bytes of the RFC 8200 §8.1 pseudo-header (upper-layer length, next header 58,
 * both big-endian) at r10 - 16 and adds them to r9. */
static void pseudo_header_tail(prog_t *p, int len) {
  const uint8_t l[4] = {0, 0, (uint8_t)(len >> 8), (uint8_t)len}, nh[4] = {0, 0, 0, 58};
  st(p, BPF_W, R10, -16, le32(l));
  st(p, BPF_W, R10, -12, le32(nh));
  mov_reg(p, R1, R10);
  alu_imm(p, BPF_ADD, R1, -16);
  csum_add(p, 8);
}

typedef struct {
  uint8_t mac[6], link_local[16];
  bool has_link_local, answer_from_target;
  int vips_fd, counters_fd;
} prog_config;

/* build emits the program. Registers kept: r6 ctx, r7 data, r8 data_end, r9 checksum / SLLA flag. */
static bool build(prog_t *p, const prog_config *c) {
  static const uint8_t ARP_HEAD[6] = {0, 1, 8, 0, 6, 4}; /* Ethernet, IPv4, hlen 6, plen 4 */
  static const uint8_t OP_REQUEST[2] = {0, 1}, OP_REPLY[2] = {0, 2}, ETH_ARP[2] = {8, 6}, ETH_IPV6[2] = {0x86, 0xdd};
  static const uint8_t V4MAPPED[4] = {0, 0, 0xff, 0xff}, PLEN24[2] = {0, 24}, PLEN32[2] = {0, 32};
  static const uint8_t SLLA_HEAD[2] = {1, 1}, TLLA_HEAD[2] = {2, 1}, IP6_HEAD[4] = {0x60, 0, 0, 0};
  static const uint8_t NA_HEAD[4] = {136, 0, 0, 0}, NA_FLAGS[4] = {0x60, 0, 0, 0}; /* Solicited | Override */
  bool ndp = c->answer_from_target || c->has_link_local;
  memset(p, 0, sizeof *p);
  for (int i = 0; i < MAX_LABELS; i++) p->label_at[i] = -1;

  mov_reg(p, R6, R1);
  reload_packet(p);
  mov_reg(p, R4, R7);
  alu_imm(p, BPF_ADD, R4, 14);
  j_reg(p, BPF_JGT, R4, R8, L_PASS);
  /* To our MAC or a group address (a frame for another host, seen in promiscuous mode, is not ours to answer). */
  ldx(p, BPF_B, R1, R7, 0);
  alu_imm(p, BPF_AND, R1, 1);
  j_imm(p, BPF_JNE, R1, 0, L_DST_OK);
  ldx(p, BPF_W, R1, R7, 0);
  j32_imm(p, BPF_JNE, R1, le32(c->mac), L_PASS);
  ldx(p, BPF_H, R1, R7, 4);
  j32_imm(p, BPF_JNE, R1, le16(c->mac + 4), L_PASS);
  label(p, L_DST_OK);
  /* Not from our MAC (our own frames looped back are not requests). */
  ldx(p, BPF_W, R1, R7, 6);
  ldx(p, BPF_H, R2, R7, 10);
  j32_imm(p, BPF_JNE, R1, le32(c->mac), L_SRC_OK);
  j32_imm(p, BPF_JEQ, R2, le16(c->mac + 4), L_PASS);
  label(p, L_SRC_OK);
  ldx(p, BPF_H, R1, R7, 12);
  j32_imm(p, BPF_JEQ, R1, le16(ETH_ARP), L_ARP);
  if (ndp) j32_imm(p, BPF_JEQ, R1, le16(ETH_IPV6), L_IPV6);
  ja(p, L_PASS);

  /* ---- ARP (RFC 826) ---- */
  label(p, L_ARP);
  mov_reg(p, R4, R7);
  alu_imm(p, BPF_ADD, R4, 42);
  j_reg(p, BPF_JGT, R4, R8, L_ARP_PASS);
  ldx(p, BPF_W, R1, R7, 14);
  j32_imm(p, BPF_JNE, R1, le32(ARP_HEAD), L_ARP_PASS);
  ldx(p, BPF_H, R1, R7, 18);
  j32_imm(p, BPF_JNE, R1, le16(ARP_HEAD + 4), L_ARP_PASS);
  ldx(p, BPF_H, R1, R7, 20);
  j32_imm(p, BPF_JNE, R1, le16(OP_REQUEST), L_ARP_PASS);
  ldx(p, BPF_W, R1, R7, 22); /* sender hardware address: not ours */
  ldx(p, BPF_H, R2, R7, 26);
  j32_imm(p, BPF_JNE, R1, le32(c->mac), L_SHA_OK);
  j32_imm(p, BPF_JEQ, R2, le16(c->mac + 4), L_ARP_PASS);
  label(p, L_SHA_OK);
  ldx(p, BPF_W, R1, R7, 28); /* sender IP = target IP: an announcement, not a question */
  ldx(p, BPF_W, R2, R7, 38);
  j_reg(p, BPF_JEQ, R1, R2, L_ARP_PASS);
  st(p, BPF_DW, R10, -32, 0); /* key ::ffff:target */
  st(p, BPF_W, R10, -24, le32(V4MAPPED));
  stx(p, BPF_W, R10, -20, R2);
  ld_map(p, R1, c->vips_fd);
  mov_reg(p, R2, R10);
  alu_imm(p, BPF_ADD, R2, -32);
  call(p, BPF_FUNC_map_lookup_elem);
  j_imm(p, BPF_JEQ, R0, 0, L_ARP_PASS);
  resize(p, 60, L_ARP_RESIZE_FAILED);
  ldx(p, BPF_W, R1, R7, 22); /* requester's hardware address */
  ldx(p, BPF_H, R2, R7, 26);
  ldx(p, BPF_W, R3, R7, 28); /* requester's IP */
  ldx(p, BPF_W, R4, R7, 38); /* the VIP */
  stx(p, BPF_W, R7, 0, R1);
  stx(p, BPF_H, R7, 4, R2);
  store_mac(p, 6, c->mac);
  st(p, BPF_H, R7, 20, le16(OP_REPLY));
  store_mac(p, 22, c->mac);
  stx(p, BPF_W, R7, 28, R4);
  stx(p, BPF_W, R7, 32, R1);
  stx(p, BPF_H, R7, 36, R2);
  stx(p, BPF_W, R7, 38, R3);
  st(p, BPF_H, R7, 42, 0); /* zero padding to the Ethernet minimum, as encodeEthernet does */
  st(p, BPF_DW, R7, 44, 0);
  st(p, BPF_DW, R7, 52, 0);
  count(p, c->counters_fd, C_ARP_ANSWERED);
  mov_imm(p, R0, XDP_TX);
  exit_(p);
  label(p, L_ARP_PASS);
  count(p, c->counters_fd, C_ARP_PASSED);
  ja(p, L_PASS);

  if (ndp) {
    /* ---- NDP (RFC 4861 §7.1.1 validation, §7.2.4 answer) ---- */
    label(p, L_IPV6);
    mov_reg(p, R4, R7);
    alu_imm(p, BPF_ADD, R4, 78); /* Ethernet + IPv6 + a 24-byte NS */
    j_reg(p, BPF_JGT, R4, R8, L_PASS);
    ldx(p, BPF_B, R1, R7, 14);
    alu_imm(p, BPF_AND, R1, 0xf0);
    j32_imm(p, BPF_JNE, R1, 0x60, L_PASS);
    ldx(p, BPF_B, R1, R7, 20);
    j32_imm(p, BPF_JNE, R1, 58, L_PASS);
    ldx(p, BPF_B, R1, R7, 54);
    j32_imm(p, BPF_JNE, R1, 135, L_PASS);
    ldx(p, BPF_B, R1, R7, 21);
    j32_imm(p, BPF_JNE, R1, 255, L_NDP_PASS);
    ldx(p, BPF_B, R1, R7, 55); /* code 0 */
    j32_imm(p, BPF_JNE, R1, 0, L_NDP_PASS);
    ldx(p, BPF_B, R1, R7, 62); /* target not multicast */
    j32_imm(p, BPF_JEQ, R1, 0xff, L_NDP_PASS);
    ldx(p, BPF_DW, R1, R7, 22); /* source specified (a DAD probe from :: goes to the thread) */
    ldx(p, BPF_DW, R2, R7, 30);
    alu_reg(p, BPF_OR, R1, R2);
    j_imm(p, BPF_JEQ, R1, 0, L_NDP_PASS);
    /* Checksum: pseudo-header (source, destination, length, 58) + the message, which must sum to 0xffff. */
    mov_imm(p, R9, 0);
    mov_reg(p, R1, R7);
    alu_imm(p, BPF_ADD, R1, 22);
    csum_add(p, 32);
    ldx(p, BPF_H, R1, R7, 18);
    j32_imm(p, BPF_JEQ, R1, le16(PLEN24), L_NS_SHORT);
    j32_imm(p, BPF_JNE, R1, le16(PLEN32), L_NDP_PASS);
    mov_reg(p, R4, R7);
    alu_imm(p, BPF_ADD, R4, 86);
    j_reg(p, BPF_JGT, R4, R8, L_NDP_PASS);
    ldx(p, BPF_H, R1, R7, 78); /* the one option: Source Link-Layer Address, 8 bytes */
    j32_imm(p, BPF_JNE, R1, le16(SLLA_HEAD), L_NDP_PASS);
    pseudo_header_tail(p, 32);
    mov_reg(p, R1, R7);
    alu_imm(p, BPF_ADD, R1, 54);
    csum_add(p, 32);
    csum_fold(p);
    j32_imm(p, BPF_JNE, R9, 0xffff, L_NDP_PASS);
    mov_imm(p, R9, 1); /* r9: has an SLLA */
    ja(p, L_NS_CSUM);
    label(p, L_NS_SHORT);
    pseudo_header_tail(p, 24);
    mov_reg(p, R1, R7);
    alu_imm(p, BPF_ADD, R1, 54);
    csum_add(p, 24);
    csum_fold(p);
    j32_imm(p, BPF_JNE, R9, 0xffff, L_NDP_PASS);
    mov_imm(p, R9, 0);
    label(p, L_NS_CSUM);
    /* The target in the map? (r7 / r8 survive the helpers above: csum_diff does not move the packet.) */
    mov_reg(p, R4, R7);
    alu_imm(p, BPF_ADD, R4, 78);
    j_reg(p, BPF_JGT, R4, R8, L_NDP_PASS);
    ldx(p, BPF_DW, R1, R7, 62);
    ldx(p, BPF_DW, R2, R7, 70);
    stx(p, BPF_DW, R10, -32, R1);
    stx(p, BPF_DW, R10, -24, R2);
    ld_map(p, R1, c->vips_fd);
    mov_reg(p, R2, R10);
    alu_imm(p, BPF_ADD, R2, -32);
    call(p, BPF_FUNC_map_lookup_elem);
    j_imm(p, BPF_JEQ, R0, 0, L_NDP_PASS);
    resize(p, 86, L_NDP_RESIZE_FAILED);
    /* Ethernet: to the SLLA when there is one, else to the frame's source; from our MAC. */
    j_imm(p, BPF_JEQ, R9, 0, L_ETH_TO_SRC);
    ldx(p, BPF_W, R1, R7, 80);
    ldx(p, BPF_H, R2, R7, 84);
    ja(p, L_ETH_DST_DONE);
    label(p, L_ETH_TO_SRC);
    ldx(p, BPF_W, R1, R7, 6);
    ldx(p, BPF_H, R2, R7, 10);
    label(p, L_ETH_DST_DONE);
    stx(p, BPF_W, R7, 0, R1);
    stx(p, BPF_H, R7, 4, R2);
    store_mac(p, 6, c->mac);
    /* IPv6: to the solicitor, from our link-local address (or the target); payload 32, ICMPv6, hop limit 255. */
    st(p, BPF_W, R7, 14, le32(IP6_HEAD));
    st(p, BPF_H, R7, 18, le16(PLEN32));
    ldx(p, BPF_DW, R1, R7, 22);
    ldx(p, BPF_DW, R2, R7, 30);
    stx(p, BPF_DW, R7, 38, R1);
    stx(p, BPF_DW, R7, 46, R2);
    if (c->answer_from_target) {
      ldx(p, BPF_DW, R1, R7, 62);
      ldx(p, BPF_DW, R2, R7, 70);
      stx(p, BPF_DW, R7, 22, R1);
      stx(p, BPF_DW, R7, 30, R2);
    } else {
      for (int i = 0; i < 16; i += 4) st(p, BPF_W, R7, (int16_t)(22 + i), le32(c->link_local + i));
    }
    /* NA: type 136, code 0, checksum 0 for now, S|O, the target (in place), Target Link-Layer Address option. */
    st(p, BPF_W, R7, 54, le32(NA_HEAD));
    st(p, BPF_W, R7, 58, le32(NA_FLAGS));
    st(p, BPF_H, R7, 78, le16(TLLA_HEAD));
    store_mac(p, 80, c->mac);
    mov_imm(p, R9, 0);
    mov_reg(p, R1, R7);
    alu_imm(p, BPF_ADD, R1, 22);
    csum_add(p, 32);
    pseudo_header_tail(p, 32);
    mov_reg(p, R1, R7);
    alu_imm(p, BPF_ADD, R1, 54);
    csum_add(p, 32);
    csum_fold(p);
    alu_imm(p, BPF_XOR, R9, 0xffff); /* complement: the sum is in memory order, so stored as it is */
    mov_reg(p, R4, R7); /* bounds again: the verifier forgets them across the helper calls above */
    alu_imm(p, BPF_ADD, R4, 86);
    j_reg(p, BPF_JGT, R4, R8, L_NDP_RESIZE_FAILED);
    stx(p, BPF_H, R7, 56, R9);
    count(p, c->counters_fd, C_NDP_ANSWERED);
    mov_imm(p, R0, XDP_TX);
    exit_(p);
    label(p, L_NDP_PASS);
    count(p, c->counters_fd, C_NDP_PASSED);
    ja(p, L_PASS);
    label(p, L_NDP_RESIZE_FAILED);
    count(p, c->counters_fd, C_NDP_RESIZE_FAILED);
    ja(p, L_PASS);
  }

  label(p, L_ARP_RESIZE_FAILED);
  count(p, c->counters_fd, C_ARP_RESIZE_FAILED);
  label(p, L_PASS);
  mov_imm(p, R0, XDP_PASS);
  exit_(p);
  return resolve(p);
}

/* ---- bpf(2) ---- */

static int sys_bpf(int cmd, union bpf_attr *attr) { return (int)syscall(__NR_bpf, cmd, attr, sizeof *attr); }

static int map_create(uint32_t type, uint32_t key, uint32_t value, uint32_t max, uint32_t flags, const char *name) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = type, a.key_size = key, a.value_size = value, a.max_entries = max, a.map_flags = flags;
  strncpy(a.map_name, name, sizeof a.map_name - 1);
  return sys_bpf(BPF_MAP_CREATE, &a);
}

/* possible_cpus: the per-CPU value count (the kernel's possible CPUs, /sys/devices/system/cpu/possible "0-N"). */
static int possible_cpus(void) {
  FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
  int n = 0;
  if (f != NULL) {
    char buf[128];
    if (fgets(buf, sizeof buf, f) != NULL) {
      for (char *s = buf; *s != '\0' && *s != '\n';) {
        long a = strtol(s, &s, 10), b = a;
        if (*s == '-') b = strtol(s + 1, &s, 10);
        n += (int)(b - a + 1);
        if (*s == ',') s++;
        else break;
      }
    }
    fclose(f);
  }
  return n > 0 ? n : (int)sysconf(_SC_NPROCESSORS_CONF);
}

typedef struct {
  int prog_fd, vips_fd, counters_fd, link_fd, ncpus;
  char log[2048]; /* the verifier's last lines when the program is refused */
} xr_t;

/* load hands the program to the verifier; refused, it loads again with the verifier's log and keeps its end. */
static int load(const prog_t *p, char *log, size_t log_size) {
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.insns = (uint64_t)(uintptr_t)p->insn;
  a.insn_cnt = (uint32_t)p->n;
  a.license = (uint64_t)(uintptr_t) "GPL"; /* bpf_csum_diff and the XDP helpers are GPL-only */
  strncpy(a.prog_name, "mv_answers", sizeof a.prog_name - 1);
  log[0] = '\0';
  int fd = sys_bpf(BPF_PROG_LOAD, &a);
  if (fd >= 0) return fd;
  int err = errno;
  size_t big = 1 << 20;
  char *full = malloc(big);
  if (full != NULL) {
    a.log_buf = (uint64_t)(uintptr_t)full, a.log_size = (uint32_t)big, a.log_level = 1;
    full[0] = '\0';
    if (sys_bpf(BPF_PROG_LOAD, &a) < 0) {
      size_t n = strnlen(full, big);
      snprintf(log, log_size, "%s", full + (n > log_size - 1 ? n - (log_size - 1) : 0));
    }
    free(full);
  }
  errno = err;
  return -1;
}

static void xr_close(xr_t *x) {
  int *fds[] = {&x->link_fd, &x->prog_fd, &x->vips_fd, &x->counters_fd};
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
    if (*fds[i] >= 0) close(*fds[i]), *fds[i] = -1;
}

/* ---- JS ---- */

static napi_value throw_errno(napi_env env, const char *what, int err, const char *detail) {
  char msg[4600];
  snprintf(msg, sizeof msg, "%s: %s%s%s", what, strerror(err), detail != NULL && *detail ? "\n" : "", detail ? detail : "");
  napi_throw_error(env, strerrorname_np(err), msg);
  return NULL;
}

static void env_cleanup(void *arg) { xr_close(arg); }

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  napi_remove_env_cleanup_hook(env, env_cleanup, data);
  xr_close(data);
  free(data);
}

static xr_t *self_of(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  xr_t *x = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, (void **)&x) != napi_ok)
    return NULL;
  return x;
}

static bool buffer_of(napi_env env, napi_value v, size_t want, uint8_t **data) {
  size_t len;
  bool is = false;
  return napi_is_buffer(env, v, &is) == napi_ok && is &&
         napi_get_buffer_info(env, v, (void **)data, &len) == napi_ok && len == want;
}

static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  napi_valuetype t1 = napi_undefined;
  uint8_t *mac, *ll = NULL;
  bool from_target = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 3 || !buffer_of(env, argv[0], 6, &mac) || napi_typeof(env, argv[1], &t1) != napi_ok ||
      (t1 != napi_null && !buffer_of(env, argv[1], 16, &ll)) || napi_get_value_bool(env, argv[2], &from_target) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "expected (mac: 6 bytes, linkLocal: 16 bytes | null, answerFromTarget)");
    return NULL;
  }
  const uint16_t probe = 1;
  if (*(const uint8_t *)&probe != 1) {
    napi_throw_error(env, "ERR_UNSUPPORTED", "the XDP responder is written for little-endian hosts");
    return NULL;
  }
  xr_t *x = calloc(1, sizeof *x);
  if (x == NULL) return throw_errno(env, "calloc", ENOMEM, NULL);
  x->prog_fd = x->link_fd = -1;
  x->ncpus = possible_cpus();
  x->vips_fd = map_create(BPF_MAP_TYPE_HASH, 16, 1, MAX_VIPS, BPF_F_NO_PREALLOC, "mv_vips");
  int err = errno;
  x->counters_fd = x->vips_fd < 0 ? -1 : map_create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, C_COUNT, 0, "mv_counters");
  if (x->vips_fd < 0 || x->counters_fd < 0) {
    if (x->counters_fd < 0 && x->vips_fd >= 0) err = errno;
    xr_close(x);
    free(x);
    return throw_errno(env, "bpf(BPF_MAP_CREATE)", err, NULL);
  }
  prog_config c = {.has_link_local = ll != NULL, .answer_from_target = from_target, .vips_fd = x->vips_fd,
                   .counters_fd = x->counters_fd};
  memcpy(c.mac, mac, 6);
  if (ll != NULL) memcpy(c.link_local, ll, 16);
  prog_t *p = malloc(sizeof *p);
  if (p == NULL || !build(p, &c)) {
    free(p);
    xr_close(x);
    free(x);
    napi_throw_error(env, "ERR_PROGRAM", "the XDP program does not assemble (too long or a label unset)");
    return NULL;
  }
  x->prog_fd = load(p, x->log, sizeof x->log);
  err = errno;
  free(p);
  if (x->prog_fd < 0) {
    napi_value e = throw_errno(env, "bpf(BPF_PROG_LOAD)", err, x->log);
    xr_close(x);
    free(x);
    return e;
  }
  if (napi_wrap(env, self, x, finalize, NULL, NULL) != napi_ok) {
    xr_close(x);
    free(x);
    return NULL;
  }
  CHECK(napi_add_env_cleanup_hook(env, env_cleanup, x));
  return self;
}

/* update(adds: Buffer[], removes: Buffer[]) -> entries changed: 4-byte IPv4 or 16-byte IPv6 addresses. Removes first. */
static napi_value js_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  xr_t *x = self_of(env, info, &argc, argv);
  if (x == NULL) return NULL;
  if (x->vips_fd < 0) {
    napi_throw_error(env, "ERR_CLOSED", "XDP responder closed");
    return NULL;
  }
  uint32_t changed = 0;
  for (int i = 1; i >= 0; i--) {
    uint32_t n = 0;
    bool is = false;
    if (argc < 2 || napi_is_array(env, argv[i], &is) != napi_ok || !is || napi_get_array_length(env, argv[i], &n) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG", "update(adds: Buffer[], removes: Buffer[])");
      return NULL;
    }
    for (uint32_t j = 0; j < n; j++) {
      napi_value item;
      uint8_t *data, key[16] = {0}, one = 1;
      size_t len = 0;
      is = false;
      if (napi_get_element(env, argv[i], j, &item) != napi_ok || napi_is_buffer(env, item, &is) != napi_ok || !is ||
          napi_get_buffer_info(env, item, (void **)&data, &len) != napi_ok || (len != 4 && len != 16)) {
        napi_throw_type_error(env, "ERR_INVALID_ARG", "update: every address is a 4- or 16-byte Buffer");
        return NULL;
      }
      if (len == 4) key[10] = key[11] = 0xff, memcpy(key + 12, data, 4);
      else memcpy(key, data, 16);
      union bpf_attr a;
      memset(&a, 0, sizeof a);
      a.map_fd = (uint32_t)x->vips_fd;
      a.key = (uint64_t)(uintptr_t)key;
      if (i == 0) a.value = (uint64_t)(uintptr_t)&one, a.flags = BPF_ANY;
      int r = sys_bpf(i == 0 ? BPF_MAP_UPDATE_ELEM : BPF_MAP_DELETE_ELEM, &a);
      if (r < 0 && !(i == 1 && errno == ENOENT))
        return throw_errno(env, i == 0 ? "bpf(BPF_MAP_UPDATE_ELEM)" : "bpf(BPF_MAP_DELETE_ELEM)", errno, NULL);
      if (r == 0) changed++;
    }
  }
  CHECK(napi_create_uint32(env, changed, &out));
  return out;
}

/* is_veth: the interface's driver is veth (ETHTOOL_GDRVINFO). A veth runs a native program, but its XDP_TX reaches
 * the peer only when the peer has NAPI on (an XDP program of its own, or GRO): from inside a container's namespace
 * the peer is out of reach, and without it every answer is dropped silently (the peer's tx_dropped). */
static bool is_veth(int ifindex) {
  struct ifreq ifr;
  struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
  memset(&ifr, 0, sizeof ifr);
  if (if_indextoname((unsigned)ifindex, ifr.ifr_name) == NULL) return false;
  ifr.ifr_data = (char *)&info;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool veth = ioctl(fd, SIOCETHTOOL, &ifr) == 0 && strcmp(info.driver, "veth") == 0;
  close(fd);
  return veth;
}

/* attach(ifindex, mode: 0 auto | 1 native | 2 generic) -> 'native' | 'generic'. Auto tries the driver first, but
 * generic on a veth (is_veth). */
static napi_value js_attach(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  int32_t ifindex, mode;
  xr_t *x = self_of(env, info, &argc, argv);
  if (x == NULL) return NULL;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &ifindex) != napi_ok || ifindex <= 0 ||
      napi_get_value_int32(env, argv[1], &mode) != napi_ok || mode < 0 || mode > 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "attach(ifindex > 0, mode: 0 auto | 1 native | 2 generic)");
    return NULL;
  }
  if (x->prog_fd < 0 || x->link_fd >= 0) {
    napi_throw_error(env, "ERR_STATE", x->prog_fd < 0 ? "XDP responder closed" : "already attached");
    return NULL;
  }
  int err = 0;
  if (mode == 0 && is_veth(ifindex)) mode = 2;
  for (int m = mode == 2 ? 2 : 1; m <= (mode == 0 ? 2 : mode); m++) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = (uint32_t)x->prog_fd;
    a.link_create.target_ifindex = (uint32_t)ifindex;
    a.link_create.attach_type = BPF_XDP;
    a.link_create.flags = m == 1 ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    x->link_fd = sys_bpf(BPF_LINK_CREATE, &a);
    if (x->link_fd >= 0) {
      CHECK(napi_create_string_utf8(env, m == 1 ? "native" : "generic", NAPI_AUTO_LENGTH, &out));
      return out;
    }
    err = errno;
    /* Only "this driver has no native XDP" falls back; EBUSY / EEXIST (another program is attached) does not. */
    if (err != EOPNOTSUPP) break;
  }
  return throw_errno(env, "bpf(BPF_LINK_CREATE, BPF_XDP)", err,
                     err == EBUSY || err == EEXIST ? "another XDP program is attached to this interface" : NULL);
}

static napi_value js_detach(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  xr_t *x = self_of(env, info, &argc, NULL);
  if (x != NULL && x->link_fd >= 0) close(x->link_fd), x->link_fd = -1;
  return NULL;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value out, v;
  xr_t *x = self_of(env, info, &argc, NULL);
  if (x == NULL) return NULL;
  CHECK(napi_create_object(env, &out));
  uint64_t *values = calloc((size_t)x->ncpus, sizeof *values);
  if (values == NULL) return throw_errno(env, "calloc", ENOMEM, NULL);
  for (uint32_t k = 0; k < C_COUNT; k++) {
    uint64_t sum = 0;
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)x->counters_fd;
    a.key = (uint64_t)(uintptr_t)&k;
    a.value = (uint64_t)(uintptr_t)values;
    if (x->counters_fd >= 0 && sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) == 0)
      for (int c = 0; c < x->ncpus; c++) sum += values[c];
    CHECK(napi_create_double(env, (double)sum, &v));
    CHECK(napi_set_named_property(env, out, COUNTER[k], v));
  }
  free(values);
  return out;
}

/* testRun(frame) -> [action, frame after]: BPF_PROG_TEST_RUN, one run, no interface needed. */
static napi_value js_test_run(napi_env env, napi_callback_info info) {
  size_t argc = 1, len;
  napi_value argv[1], out, action, data;
  uint8_t *frame, buf[4096];
  xr_t *x = self_of(env, info, &argc, argv);
  if (x == NULL) return NULL;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], (void **)&frame, &len) != napi_ok || len > 1500) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "testRun(frame: Buffer of at most 1500 bytes)");
    return NULL;
  }
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.test.prog_fd = (uint32_t)x->prog_fd;
  a.test.data_in = (uint64_t)(uintptr_t)frame;
  a.test.data_size_in = (uint32_t)len;
  a.test.data_out = (uint64_t)(uintptr_t)buf;
  a.test.data_size_out = sizeof buf;
  a.test.repeat = 1;
  if (sys_bpf(BPF_PROG_TEST_RUN, &a) < 0) return throw_errno(env, "bpf(BPF_PROG_TEST_RUN)", errno, NULL);
  const char *name = a.test.retval == XDP_TX ? "tx" : a.test.retval == XDP_PASS ? "pass" : "other";
  CHECK(napi_create_array(env, &out));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &action));
  CHECK(napi_create_buffer_copy(env, a.test.data_size_out, buf, NULL, &data));
  CHECK(napi_set_element(env, out, 0, action));
  CHECK(napi_set_element(env, out, 1, data));
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  xr_t *x = self_of(env, info, &argc, NULL);
  if (x != NULL) xr_close(x);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value cls;
  napi_property_descriptor methods[] = {
      {"update", NULL, js_update, NULL, NULL, NULL, napi_default, NULL},
      {"attach", NULL, js_attach, NULL, NULL, NULL, napi_default, NULL},
      {"detach", NULL, js_detach, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"testRun", NULL, js_test_run, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_class(env, "XdpResponder", NAPI_AUTO_LENGTH, js_new, NULL, 6, methods, &cls));
  CHECK(napi_set_named_property(env, exports, "XdpResponder", cls));
  return exports;
}
