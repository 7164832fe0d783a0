import { Type, type Static } from 'typebox';
import { Email, Id, line, Nullable, Timestamp } from '../crm/schemas.ts';

export const Role = Type.Union([Type.Literal('admin'), Type.Literal('user')]);
export type Role = Static<typeof Role>;

export const UserView = Type.Object({
  id: Id,
  email: Type.String(),
  name: Type.String(),
  role: Role,
  extension: Nullable(Type.String()),
  sip_username: Type.String(),
  time_zone: Type.String(),
  disabled: Type.Boolean(),
  created_at: Timestamp,
});
export type UserView = Static<typeof UserView>;

/** A user just created: with the generated device password, the only time it is readable. */
export const CreatedUserView = Type.Intersect([UserView, Type.Object({ device_password: Type.String() })]);

export const Password = Type.String({ minLength: 10, maxLength: 200, description: 'At least 10 characters' });

export const UserInput = Type.Object(
  {
    email: Email,
    name: line(100, 1),
    role: Type.Optional(Role),
    extension: Type.Optional(Nullable(Type.String({ pattern: '^[0-9]{2,8}$', description: '2 to 8 digits' }))),
    password: Password,
    time_zone: Type.Optional(line(64, 1)),
  },
  { additionalProperties: false },
);
export type UserInput = Static<typeof UserInput>;

export const PasswordChange = Type.Object(
  { current_password: Type.String({ maxLength: 200 }), new_password: Password },
  { additionalProperties: false },
);
export type PasswordChange = Static<typeof PasswordChange>;
