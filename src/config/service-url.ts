// A service's `url` shorthand, read as Kong's services schema reads it (kong/db/schema/entities/services.lua
// shorthand_fields): it gives protocol, host, port and path at once.

/** Where a service's url points; `port` and `path` are undefined when the url does not give them. */
export interface ServiceUrl {
  protocol: string;
  host: string;
  port: number | undefined;
  path: string | undefined;
}

/** The parts of `url`, or why it is not a service url. */
export function parseServiceUrl(url: string): ServiceUrl | { error: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { error: `invalid url '${url}'` };
  }
  if (u.search || u.hash) return { error: 'a service url may not carry a query or fragment' };
  return {
    protocol: u.protocol.slice(0, -1),
    host: u.hostname,
    port: u.port !== '' ? Number(u.port) : undefined,
    // `http://h` has no path (the service has none); `http://h/` has "/".
    path: u.pathname === '/' && !/^[a-z]+:\/\/[^/]+\//i.test(url) ? undefined : u.pathname,
  };
}

/** The port a service uses when neither its url nor its port field gives one. */
export function defaultPort(protocol: string): number {
  return protocol === 'https' ? 443 : 80;
}
