export { SipParseError, splitTopLevel, parseParams, formatParams, quote, type Params } from './grammar.ts';
export { AbsoluteUri, SipUri, parseUri, parseSipUri, percentDecode, type Uri } from './uri.ts';
export { NameAddr, Via, canonicalHeaderName, parseCSeq, parseInteger, parseNameAddr, parseVia, type CSeq } from './headers.ts';
export {
  REASON_PHRASES,
  SIP_VERSION,
  SipMessage,
  SipRequest,
  SipResponse,
  createResponse,
  newBranch,
  randomToken,
  type AnySipMessage,
  type Header,
} from './message.ts';
export { SipMessageError, parseMessage, type ParseOptions, type PartialRequest } from './parser.ts';
export { SipStreamFramer, type Frame } from './stream-framer.ts';
