/**
 * Which proxy a download goes through: an explicit proxy (the extension passes
 * VS Code's `http.proxy`) or the conventional environment variables, unless the
 * host is listed in NO_PROXY. Requests then go through Node's http/https with a
 * proxy agent (CONNECT tunnels for https, absolute-form requests for http).
 */
import type { Agent } from 'node:http';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';

export interface ProxySettings {
  /** A proxy URL for every host not excluded by NO_PROXY; overrides HTTPS_PROXY / HTTP_PROXY. */
  readonly proxy?: string;
  /** Hosts to reach directly (NO_PROXY syntax); defaults to the NO_PROXY variable. */
  readonly noProxy?: string;
  /** Environment to read HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY from; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

function variable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  // Lower case first, as curl and most tools read them.
  const value = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

function parseProxy(value: string): URL {
  // "proxy.corp:3128" is as common in these variables as a full URL.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TypeError(`invalid proxy URL "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported proxy scheme in "${value}" (use http:// or https://)`);
  return url;
}

function defaultPort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/**
 * NO_PROXY matching as curl does it: comma- or space-separated entries; "*"
 * matches everything; "example.com" and ".example.com" match the host and its
 * subdomains; an entry with ":port" only matches that port.
 */
export function matchesNoProxy(target: URL, noProxy: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    // "host", "host:port", "[v6]", "[v6]:port", or a bare IPv6 address.
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? /^([^:]+)(?::(\d+))?$/.exec(entry);
    const name = (m ? m[1]! : entry).replace(/^\*?\./, '');
    const port = m?.[2];
    if (port !== undefined && port !== defaultPort(target)) continue;
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

/** The proxy for a request to `target`, or null to connect directly. */
export function proxyForUrl(target: URL, settings: ProxySettings = {}): URL | null {
  const env = settings.env ?? process.env;
  const noProxy = settings.noProxy ?? variable(env, 'NO_PROXY');
  if (noProxy !== undefined && matchesNoProxy(target, noProxy)) return null;
  if (settings.proxy !== undefined && settings.proxy.trim() !== '') return parseProxy(settings.proxy.trim());
  const value = (target.protocol === 'https:' ? variable(env, 'HTTPS_PROXY') : variable(env, 'HTTP_PROXY')) ?? variable(env, 'ALL_PROXY');
  return value === undefined ? null : parseProxy(value);
}

/** The agent that sends a request for `target` through `proxy`. */
export function proxyAgent(target: URL, proxy: URL): Agent {
  return target.protocol === 'https:' ? new HttpsProxyAgent(proxy) : new HttpProxyAgent(proxy);
}
