/**
 * raw-socket is the typing of the `raw-socket` package (1.8.x, CommonJS), covering what metal-vrrp uses.
 * Import it as `import raw from 'raw-socket'`. Only a few socket option constants are exported by the package:
 * pass numbers for the rest (see ../shared/NETLAB-NOTES.md and ip(7)).
 */
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events';

  namespace raw {
    /** AddressFamily selects AF_INET (1) or AF_INET6 (2); the package knows no other family. */
    const AddressFamily: { readonly IPv4: 1; readonly IPv6: 2 };
    /** Protocol names a few protocol numbers; any number 0..255 is accepted by createSocket. */
    const Protocol: { readonly None: 0; readonly ICMP: 1; readonly TCP: 6; readonly UDP: 17; readonly ICMPv6: 58 };
    /** SocketLevel holds SOL_SOCKET, IPPROTO_IP and IPPROTO_IPV6 as the platform defines them. */
    const SocketLevel: { readonly SOL_SOCKET: number; readonly IPPROTO_IP: number; readonly IPPROTO_IPV6: number };
    /** SocketOption holds the few option numbers the package exports (IP_HDRINCL, IP_TTL, SO_RCVBUF, …). */
    const SocketOption: Readonly<Record<string, number>>;

    /** SocketOptions are createSocket's options; bufferSize is the receive buffer (default 4096 bytes). */
    interface SocketOptions {
      protocol?: number;
      addressFamily?: 1 | 2;
      bufferSize?: number;
    }

    /**
     * Socket is a non-blocking raw socket read by a libuv poll. Events: 'message' (buffer, source address) — the
     * buffer is a view of a receive buffer reused for the next packet; 'error' (Error) — must be listened to;
     * 'close'. An IPv4 socket receives the IP header, an IPv6 one only the payload.
     */
    interface Socket extends EventEmitter {
      on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
      on(event: 'error', listener: (error: Error) => void): this;
      on(event: 'close', listener: () => void): this;
      /** send queues `length` bytes from `offset` to `address`; the callback reports the bytes sent or an error. */
      send(
        buffer: Buffer,
        offset: number,
        length: number,
        address: string,
        afterCallback: (error: Error | null, bytes: number) => void,
      ): this;
      send(
        buffer: Buffer,
        offset: number,
        length: number,
        address: string,
        beforeCallback: () => void,
        afterCallback: (error: Error | null, bytes: number) => void,
      ): this;
      /** setOption calls setsockopt with a 4-byte unsigned int, or with the first `length` bytes of a buffer. */
      setOption(level: number, option: number, value: number): void;
      setOption(level: number, option: number, value: Buffer, length: number): void;
      /** getOption calls getsockopt into `value` and returns the length written. */
      getOption(level: number, option: number, value: Buffer, length: number): number;
      close(): this;
      pauseRecv(): this;
      resumeRecv(): this;
      pauseSend(): this;
      resumeSend(): this;
    }

    /** createSocket opens the socket at once; throws (EPERM without CAP_NET_RAW). */
    function createSocket(options?: SocketOptions): Socket;
    /** createChecksum is the RFC 1071 sum of the buffers (or buffer slices) given. */
    function createChecksum(...parts: Array<Buffer | { buffer: Buffer; offset: number; length: number }>): number;
    /** writeChecksum writes a 16-bit checksum big-endian at `offset` and returns the buffer. */
    function writeChecksum(buffer: Buffer, offset: number, checksum: number): Buffer;
    function htonl(n: number): number;
    function htons(n: number): number;
    function ntohl(n: number): number;
    function ntohs(n: number): number;
  }

  export = raw;
}
