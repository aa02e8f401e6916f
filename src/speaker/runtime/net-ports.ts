/**
 * openNetPorts opens the real sockets a speaker needs on one interface (src/net): a VRRP socket per family its
 * routers use, an ARP responder when it has IPv4 routers and an NDP responder (joined to the solicited-node group
 * of every IPv6 VIP, so solicitations pass the NIC filter whatever the state) when it has IPv6 routers.
 * The responders ask `shouldAnswer`, which the speaker answers from its VIP table; when the addon has the native
 * responder (native-answers.ts), its thread answers instead, from the VIPs `answering` hands it, and the JS
 * responders only announce.
 */

import type { Family } from '../../../vrrp/advert.ts';
import type { AuthKey } from '../../../vrrp/auth.ts';
import type { Logger } from '../../log.ts';
import type { SpeakerMetrics } from '../../metrics.ts';
import type { Sources } from '../../model/local-node.ts';
import { ArpResponder } from '../../net/arp-responder.ts';
import type { VrrpReceive } from '../../net/frames/vrrp.ts';
import type { InterfaceInfo } from '../../net/interface-info.ts';
import { NdpResponder } from '../../net/ndp-responder.ts';
import { VrrpSocket } from '../../net/vrrp-socket.ts';
import type { RouterSpec } from '../router-spec.ts';
import type { XdpAnswers as XdpAnswersSetting } from '../xdp-answers-setting.ts';
import { type NativeAnswers, openNativeAnswers } from './native-answers.ts';
import type { AdvertChannel, Announcer, SpeakerPorts } from './ports.ts';
import { openXdpAnswers, type XdpAnswers } from './xdp-answers.ts';

/** SENT is the outcome of every advert that left (one object: a master sends hundreds per interval). */
const SENT = { ok: true } as const;

/** NetPortsDeps: the interface, the routers (to know families and VIPs), and the speaker's two hooks. */
export interface NetPortsDeps {
  readonly info: InterfaceInfo;
  readonly routers: readonly Pick<RouterSpec, 'config' | 'vips'>[];
  /** families opens these families whatever the routers (Kubernetes mode: routers come and go). */
  readonly families?: readonly Family[];
  readonly sources: Sources;
  readonly onReceive: (r: VrrpReceive) => void;
  readonly shouldAnswer: (ip: string, ifname: string) => boolean;
  /** authKeys: keys of the routers that require authenticated adverts (the speaker's authKeysFor). */
  readonly authKeys?: (family: Family, vrid: number) => readonly AuthKey[] | undefined;
  readonly metrics: SpeakerMetrics;
  readonly logger: Logger;
  /** neighborAnswers: 'native' (default when the addon has it) answers ARP/NDP on the addon's thread; 'js' here. */
  readonly neighborAnswers?: 'native' | 'js';
  /** xdpAnswers: an XDP program answers ARP/NDP ahead of the others (`off`, the default: none). */
  readonly xdpAnswers?: XdpAnswersSetting;
}

/** NetPorts are the speaker's ports and the close() that releases every socket. */
export interface NetPorts extends SpeakerPorts {
  /** listenFor joins the solicited-node group of an IPv6 VIP added after opening (no-op without IPv6). */
  listenFor(ip: string): void;
  close(): void;
}

/** openNetPorts opens every socket or none: on a failure it closes what it opened and rethrows. */
export function openNetPorts(deps: NetPortsDeps): NetPorts {
  const { info, logger } = deps;
  const families = new Set(deps.families ?? deps.routers.map((r) => r.config.family));
  let ndpListen: ((ip: string) => void) | undefined;
  const closers: (() => void)[] = [];
  const adverts: Partial<Record<Family, AdvertChannel>> = {};
  const announcers: Partial<Record<Family, Announcer>> = {};
  let arpAnswerOnly: ((vips: readonly string[]) => void) | undefined;
  let native: NativeAnswers | undefined;
  let xdp: XdpAnswers | undefined;
  const onError = (what: string) => (err: Error) => logger.error({ err, interface: info.name }, `${what} error`);
  try {
    // ARP and NDP requests are answered by the addon's thread when it has one: no request waits for the event loop,
    // and none reaches it. The JS responders below then only send announcements (their sockets receive nothing).
    if (deps.neighborAnswers !== 'js' && (families.has('ipv4') || families.has('ipv6'))) {
      native = openNativeAnswers({
        info,
        families: { ipv4: families.has('ipv4'), ipv6: families.has('ipv6') },
        metrics: deps.metrics,
        logger,
      });
      if (native !== undefined) closers.push(() => native?.close());
    }
    if (deps.xdpAnswers !== undefined && deps.xdpAnswers !== 'off' && (families.has('ipv4') || families.has('ipv6'))) {
      xdp = openXdpAnswers({
        info,
        families: { ipv4: families.has('ipv4'), ipv6: families.has('ipv6') },
        mode: deps.xdpAnswers,
        metrics: deps.metrics,
        logger,
      });
      if (xdp !== undefined) closers.push(() => xdp?.close());
    }
    for (const family of families) {
      const source = deps.sources[family];
      const socket = new VrrpSocket({
        family,
        ifname: info.name,
        interfaceInfo: info,
        ...(source === undefined ? {} : { source }),
        onAdvert: deps.onReceive,
        onDrop: deps.onReceive,
        onError: onError(`VRRP ${family} socket`),
        ...(deps.authKeys ? { authKeys: deps.authKeys } : {}),
      });
      closers.push(() => socket.stop());
      adverts[family] = {
        send: (advert, to, seal) => {
          const sent = socket.send(advert, to === undefined ? undefined : { address: to }, seal);
          return sent.ok ? SENT : { ok: false, detail: `${sent.reason}: ${sent.detail}` };
        },
        watchPeers: (peers) => socket.watchPeers(peers),
        knowsPeer: (address) => socket.knowsPeer(address),
        hush: (received, watchMs) => socket.hush(received, watchMs),
        unhush: (vrid) => socket.unhush(vrid),
        heardAgain: (vrid) => socket.heardAgain(vrid),
        due: (aheadMs) => socket.due(aheadMs),
        flush: () => socket.flush(),
      };
    }
    if (families.has('ipv4')) {
      const arp = new ArpResponder({
        ifname: info.name,
        interfaceInfo: info,
        shouldAnswer: deps.shouldAnswer,
        onFrame: (r) => {
          if (r.answer && r.sent.ok) deps.metrics.arpReplies.inc({ interface: info.name });
        },
        onError: onError('ARP responder'),
        drops: deps.metrics.neighborDrops,
        sendOnly: native !== undefined,
      });
      closers.push(() => arp.stop());
      // Without the native responder: the kernel passes only requests for the VIPs mastered here (none yet), so an
      // ARP flood for other addresses never reaches the event loop. The speaker reports every change of mastership;
      // attaching a filter costs about 0.5 ms in the kernel whatever its size (measured here), so the changes of one
      // synchronous burst (a dead node's hundred takeovers) are applied once, at its end, before the loop reads the
      // socket again.
      if (native === undefined) {
        arp.answerOnly([]);
        let latest: readonly string[] | undefined;
        arpAnswerOnly = (vips) => {
          if (latest === undefined) {
            queueMicrotask(() => {
              const v = latest ?? [];
              latest = undefined;
              arp.answerOnly(v.filter((ip) => !ip.includes(':')));
            });
          }
          latest = vips;
        };
      }
      announcers.ipv4 = {
        announce: async (ip, req) => {
          const r = await arp.announce(ip, req);
          return r.ok ? r : { ok: false, frames: r.frames, detail: `${r.reason}: ${r.detail}` };
        },
        announceNow: (ips) => {
          const r = arp.announceNow(ips);
          return r.ok ? r : { ok: false, frames: r.frames, detail: `${r.reason}: ${r.detail}` };
        },
      };
    }
    if (families.has('ipv6')) {
      const ndp = new NdpResponder({
        ifname: info.name,
        interfaceInfo: info,
        shouldAnswer: deps.shouldAnswer,
        onFrame: (r) => {
          if (r.answer && r.sent.ok) deps.metrics.ndpReplies.inc({ interface: info.name });
        },
        onError: onError('NDP responder'),
        drops: deps.metrics.neighborDrops,
        sendOnly: native !== undefined,
      });
      closers.push(() => ndp.stop());
      ndpListen = native === undefined ? (ip) => void ndp.listenFor(ip) : (ip) => native?.listenFor(ip);
      for (const r of deps.routers) if (r.config.family === 'ipv6') for (const vip of r.vips) ndpListen(vip);
      announcers.ipv6 = {
        announce: async (ip, req) => {
          const r = await ndp.announce(ip, req);
          return r.ok ? r : { ok: false, frames: r.frames, detail: `${r.reason}: ${r.detail}` };
        },
      };
    }
  } catch (err) {
    for (const close of closers.reverse()) close();
    throw err;
  }
  return {
    adverts,
    announcers,
    answering: (vips) => {
      xdp?.answerFor(vips);
      native?.answerFor(vips);
      arpAnswerOnly?.(vips);
    },
    listenFor: (ip) => ndpListen?.(ip),
    close: () => {
      for (const close of closers.reverse()) close();
    },
  };
}
