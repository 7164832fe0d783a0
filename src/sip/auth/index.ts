export { DigestServer, answerChallenge, parseAuthHeader, type DigestAlgorithm, type DigestCredentials, type DigestServerOptions, type DigestVerdict } from './digest.ts';
