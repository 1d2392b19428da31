/**
 * Entry point of the segmentation editor's webview (bundled to dist/webview.js,
 * loaded by the host's HTML after #app). Builds the editor into #app and says
 * `ready`, after which the host sends `init` and, if it has them, the masks.
 */
import { Editor } from './editor';
import { connectHost } from './host';

const root = document.getElementById('app');
if (!root) throw new Error('FastSAM editor: #app is missing from the webview HTML');
new Editor(root, connectHost());
