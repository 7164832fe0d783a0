export { Dialog, dialogKey, newTag, type DialogId, type DialogState } from './dialog.ts';
