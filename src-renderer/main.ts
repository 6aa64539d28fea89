import { mount } from 'svelte';
import './styles/app.css';
import './lib/theme.svelte.ts'; // applies the stored theme before the first paint
import App from './App.svelte';

mount(App, { target: document.getElementById('app')! });
