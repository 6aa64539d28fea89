// Stylesheets are bundled by vite; importing one has only side effects.
declare module '*.css';

// Images are bundled by vite; importing one gives its URL.
declare module '*.svg' {
  const url: string;
  export default url;
}
