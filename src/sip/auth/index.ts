export { ownSipHosts } from './own-hosts.ts';
export { DigestServer, answerChallenge, digestHa1, parseAuthHeader, type DigestAlgorithm, type DigestHa1, type DigestCredentials, type DigestServerOptions, type DigestVerdict } from './digest.ts';
