// Stylesheets are bundled by vite; importing one has only side effects.
declare module '*.css';
