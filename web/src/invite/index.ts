/** Video invitations in the signed-in pages: the ✉ buttons open the invite dialog. */
import '../styles/invite.css';
import { installInviteDialog } from './dialog.ts';

installInviteDialog();
