/**
 * Test helpers that wrap VRRP packets in IP headers and write them as a classic pcap file, so tshark can dissect
 * what the codec produces. Pure: they return bytes; the test decides where to write them.
 */

import ipaddr from 'ipaddr.js';
import { internetChecksum } from '../../vrrp/checksum.ts';

/** LINKTYPE_RAW is the pcap link type whose frames start with an IPv4 or IPv6 header (no Ethernet). */
export const LINKTYPE_RAW = 101;
/** LINKTYPE_ETHERNET is the pcap link type for frames with a 14-byte Ethernet header. */
export const LINKTYPE_ETHERNET = 1;

/** PcapRecord is one captured frame; the timestamp is only there to make captures readable in Wireshark. */
export interface PcapRecord {
  readonly data: Uint8Array;
  readonly seconds?: number;
  readonly micros?: number;
}

/** pcapFile writes the pcap global header (v2.4, microsecond stamps, little-endian) and one record per frame. */
export function pcapFile(records: readonly PcapRecord[], linktype: number = LINKTYPE_RAW): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeInt32LE(0, 8); // thiszone
  header.writeUInt32LE(0, 12); // sigfigs
  header.writeUInt32LE(65535, 16); // snaplen
  header.writeUInt32LE(linktype, 20);
  const parts: Buffer[] = [header];
  for (const [i, record] of records.entries()) {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(record.seconds ?? i, 0);
    rec.writeUInt32LE(record.micros ?? 0, 4);
    rec.writeUInt32LE(record.data.length, 8);
    rec.writeUInt32LE(record.data.length, 12);
    parts.push(rec, Buffer.from(record.data));
  }
  return Buffer.concat(parts);
}

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(ipaddr.parse(text).toByteArray());
}

/** IpOptions are the header fields a VRRP test varies; protocol defaults to 112 and TTL / hop limit to 255. */
export interface IpOptions {
  readonly source: string;
  readonly destination: string;
  readonly ttl?: number;
  readonly protocol?: number;
}

/** ipv4Packet prepends a 20-byte IPv4 header (no options, DF, TOS 0xc0 like keepalived) with a valid checksum. */
export function ipv4Packet(opts: IpOptions, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(20);
  header[0] = 0x45;
  header[1] = 0xc0;
  header.writeUInt16BE(20 + payload.length, 2);
  header.writeUInt16BE(0x4000, 6); // DF, fragment offset 0
  header[8] = opts.ttl ?? 255;
  header[9] = opts.protocol ?? 112;
  header.set(bytesOf(opts.source), 12);
  header.set(bytesOf(opts.destination), 16);
  header.writeUInt16BE(internetChecksum(header), 10);
  return Buffer.concat([header, payload]);
}

/** ipv6Packet prepends a 40-byte IPv6 header with no extension headers. */
export function ipv6Packet(opts: IpOptions, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(40);
  header.writeUInt32BE(0x60000000, 0);
  header.writeUInt16BE(payload.length, 4);
  header[6] = opts.protocol ?? 112;
  header[7] = opts.ttl ?? 255;
  header.set(bytesOf(opts.source), 8);
  header.set(bytesOf(opts.destination), 24);
  return Buffer.concat([header, payload]);
}
