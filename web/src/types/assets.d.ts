/** Stylesheets imported for their side effect; Vite bundles them into ringside.css. */
declare module '*.css';
