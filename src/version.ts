// Read once at startup; package.json sits one level above both src/ and dist/.
const pkg = require('../package.json') as { version: string };

export const VERSION: string = pkg.version;
export const PRODUCT = 'gateway';
export const SERVER_TOKEN = `${PRODUCT}/${VERSION}`;
export const VIA_TOKEN = `1.1 ${SERVER_TOKEN}`;
